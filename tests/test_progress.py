"""Progress bars reach the stage log file at a readable rate, and stay off the console (the bar is there)."""

import logging

from featevo import progress
from featevo.progress import progress_line, tqdm


def test_progress_line_has_count_rate_and_eta():
    line = progress_line("train base", 50, 200, "step", 25.0, "fvu=0.300")
    assert line == "train base: 50/200 step (25%), 2 step/s, elapsed 25s, ETA 75s, fvu=0.300"
    slow = progress_line("label latents", 2, None, "latent", 30.0)
    assert slow == "label latents: 2 latent, 15 s/latent, elapsed 30s"


def test_bar_logs_while_it_runs_and_when_it_closes(monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger=progress.LOGGER_NAME)
    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.0)
    assert sum(1 for _ in tqdm(range(5), desc="steps", unit="step", mininterval=0, miniters=1)) == 5
    lines = [r.getMessage() for r in caplog.records if r.name == progress.LOGGER_NAME]
    assert lines and lines[-1].startswith("steps: 5/5 step (100%)")
    caplog.clear()
    monkeypatch.setattr(progress, "LOG_EVERY_S", 3600.0)
    bar = tqdm(total=3, desc="quiet")
    bar.update(3)
    bar.close()
    assert not [r for r in caplog.records if r.name == progress.LOGGER_NAME]  # a short bar stays out of the log
    caplog.clear()
    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.0)
    for _ in tqdm(range(3), disable=True):
        pass
    assert not [r for r in caplog.records if r.name == progress.LOGGER_NAME]


def test_console_drops_progress_lines_the_log_file_keeps_them(tmp_path, monkeypatch, capsys):
    from featevo import cli
    from featevo.config import load_config

    cfg = load_config("configs/demo.yaml", overrides=[f"output_root={tmp_path}"])
    cli.setup_logging(cfg, "01_train_sae")
    monkeypatch.setattr(progress, "LOG_EVERY_S", 0.0)
    for _ in tqdm(range(3), desc="work", mininterval=0, miniters=1):
        pass
    logging.getLogger("featevo.test").info("plain line")
    for h in logging.getLogger().handlers:
        h.flush()
    text = (tmp_path / cfg.run_name / "logs" / "01_train_sae.log").read_text()
    assert "featevo.progress: work: 3/3" in text and "plain line" in text
    err = capsys.readouterr().err
    assert "plain line" in err and "featevo.progress" not in err
    for h in list(logging.getLogger().handlers):
        logging.getLogger().removeHandler(h)
        h.close()
