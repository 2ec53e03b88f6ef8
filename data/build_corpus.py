#!/usr/bin/env python3
"""Build the synthetic featevo text corpus (stdlib only, deterministic).

Writes, next to this script (or into --out-dir):

* ``corpus.jsonl`` -- SAE / fine-tuning training corpus, shuffled with the seed.
* ``probe.jsonl``  -- held-out probe set, 60 sentences per category, grouped by
  category.  Probe sentences come exclusively from templates that are *never*
  used for the corpus (the last ``N_PROBE_TEMPLATES`` templates of each
  category), so no template+filler combination is shared with the corpus.

Every line is ``{"text": str, "category": str, "domain": "financial"|"general"}``.

The text is synthetic: sentences are produced from hand-written templates and
lexicons.  Company, bank, fund, person, team, restaurant, artist and work
titles are invented; well-known institutions (central banks, indexes, rating
agencies, journals, cities) appear only as generic context.

Usage::

    python data/build_corpus.py            # seed 0, writes data/*.jsonl
    python data/build_corpus.py --seed 1 --out-dir /tmp/corpus
"""
from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
from collections import Counter, defaultdict
from pathlib import Path

# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------

FINANCIAL = ["earnings", "markets", "banking", "macro", "central_banks", "credit", "mna"]
GENERAL = ["weather", "sports", "science", "food", "travel", "arts"]
CATEGORIES = FINANCIAL + GENERAL
DOMAIN = {c: "financial" for c in FINANCIAL} | {c: "general" for c in GENERAL}

N_CORPUS = {c: 350 for c in FINANCIAL} | {c: 300 for c in GENERAL}
N_PROBE = 60
N_PROBE_TEMPLATES = 8          # last 8 templates of every category -> probe only
MIN_CORPUS_TEMPLATES = 25
MIN_WORDS, MAX_WORDS = 10, 40

# ---------------------------------------------------------------------------
# Small value generators
# ---------------------------------------------------------------------------

NUM_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
             "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen",
             "sixteen", "seventeen", "eighteen", "nineteen", "twenty"]
ORDINAL_WORDS = ["zeroth", "first", "second", "third", "fourth", "fifth", "sixth",
                 "seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth"]


def _commas(n: int) -> str:
    return f"{n:,}"


def ordinal_suffix(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return str(n) + {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def integer(lo, hi, step=1, commas=True):
    def gen(r):
        v = r.randrange(lo, hi + 1, step)
        return _commas(v) if commas else str(v)
    return gen


def word_int(lo, hi):
    return lambda r: NUM_WORDS[r.randint(lo, hi)]


def word_ord(lo, hi):
    return lambda r: ORDINAL_WORDS[r.randint(lo, hi)]


def dec(lo, hi, dp=1, suffix=""):
    return lambda r: f"{r.uniform(lo, hi):.{dp}f}{suffix}"


def pct(lo, hi, dp=1):
    return dec(lo, hi, dp, "%")


def _fmt_money(v: float, unit: str, cur: str, dp: int) -> str:
    if unit == "million" and v >= 1000:
        v, unit = v / 1000, "billion"
    s = f"{v:.{dp}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return f"{cur}{s} {unit}".strip()


def money(lo, hi, unit="million", cur="$", dp=None):
    if dp is None:
        dp = 0 if unit == "million" else 1

    def gen(r):
        return _fmt_money(r.uniform(lo, hi), unit, cur, dp)
    return gen


def money_pair(lo, hi, unit="million", rel=(0.06, 0.35), cur="$"):
    """{"hi": larger, "lo": smaller} amounts for 'rose to X from Y' phrases."""
    dp = 0 if unit == "million" else 1

    def gen(r):
        while True:
            a = r.uniform(lo, hi)
            b = a * (1 - r.uniform(*rel))
            hi_s, lo_s = _fmt_money(a, unit, cur, dp), _fmt_money(b, unit, cur, dp)
            if hi_s != lo_s:
                return {"hi": hi_s, "lo": lo_s}
    return gen


def pct_pair(lo, hi, gap=(0.3, 3.0), dp=1):
    def gen(r):
        a = r.uniform(lo, hi)
        b = a - r.uniform(*gap)
        return {"hi": f"{a:.{dp}f}%", "lo": f"{b:.{dp}f}%"}
    return gen


def int_pair(lo, hi, min_gap=1, words=False):
    """{"big": b, "small": s} with s <= b - min_gap."""
    def gen(r):
        b = r.randint(lo + min_gap, hi)
        s = r.randint(lo, b - min_gap)
        f = (lambda x: NUM_WORDS[x]) if words else str
        return {"big": f(b), "small": f(s)}
    return gen


def eps_pair(lo=0.2, hi=6.0):
    def gen(r):
        a = r.uniform(lo, hi)
        b = a * (1 - r.uniform(0.03, 0.15))
        a_s, b_s = f"${a:.2f}", f"${b:.2f}"
        if a_s == b_s:
            b_s = f"${b - 0.01:.2f}"
        return {"hi": a_s, "lo": b_s}
    return gen


def score(max_w, min_w=1, min_l=0):
    """{"w": winner's score, "l": loser's score}, w > l."""
    def gen(r):
        w = r.randint(max(min_w, min_l + 1), max_w)
        return {"w": str(w), "l": str(r.randint(min_l, w - 1))}
    return gen


def bball_score(r):
    w = r.randint(96, 128)
    return {"w": str(w), "l": str(w - r.randint(1, 17))}


def maybe(p, options):
    """With probability p pick one of `options`, else empty string."""
    return lambda r: r.choice(options) if r.random() < p else ""


# ---------------------------------------------------------------------------
# Shared lexicons
# ---------------------------------------------------------------------------

FIRST = ["Maria", "James", "Aisha", "Daniel", "Mei", "Thomas", "Priya", "Lukas", "Sofia",
         "Kwame", "Elena", "Rafael", "Hannah", "Kenji", "Fatima", "Oliver", "Ingrid",
         "Samuel", "Leila", "Marcus", "Chloe", "Tomasz", "Amara", "Henrik", "Julia",
         "Ravi", "Camille", "Diego", "Nadia", "Patrick", "Yuki", "Gabriel", "Sara",
         "Andrew", "Ines", "Victor", "Helen", "Omar", "Rebecca", "Stefan", "Lucia",
         "Nathan", "Anika", "Felix", "Grace", "Mateo", "Zara", "Peter", "Claire", "Jonas"]
LAST = ["Okafor", "Lindqvist", "Moreau", "Tanaka", "Brennan", "Castellano", "Whitfield",
        "Ashworth", "Novak", "Hargrove", "Delacroix", "Mensah", "Iyer", "Falkner",
        "Ruiz", "Petrov", "Calloway", "Haddad", "Sorensen", "Kimura", "Fitzgerald",
        "Varga", "Osei", "Marchetti", "Blackwood", "Chen", "Albrecht", "Duarte",
        "Rowntree", "Nakamura", "Keller", "Abernathy", "Sato", "Lindgren", "Costa",
        "Whitaker", "Mbeki", "Holloway", "Jansen", "Quintero", "Dunmore", "Ferreira",
        "Walsh", "Bergstrom", "Okonkwo", "Pereira", "Stratton", "Greer", "Hayashi", "Vance"]
MALE_FIRST = ["James", "Daniel", "Thomas", "Lukas", "Kwame", "Rafael", "Kenji", "Oliver",
              "Samuel", "Marcus", "Tomasz", "Henrik", "Ravi", "Diego", "Patrick", "Gabriel",
              "Andrew", "Victor", "Omar", "Stefan", "Nathan", "Felix", "Mateo", "Peter",
              "Jonas", "Luca", "Emeka", "Joao", "Mikel", "Anders", "Kai", "Bruno"]
FEMALE_FIRST = ["Maria", "Aisha", "Mei", "Priya", "Sofia", "Elena", "Hannah", "Fatima",
                "Ingrid", "Leila", "Chloe", "Amara", "Julia", "Camille", "Nadia", "Yuki",
                "Sara", "Ines", "Helen", "Rebecca", "Lucia", "Anika", "Grace", "Zara",
                "Claire", "Marta", "Noor", "Astrid", "Elif", "Naomi"]


def person(r):
    return f"{r.choice(FIRST)} {r.choice(LAST)}"


def man(r):
    return f"{r.choice(MALE_FIRST)} {r.choice(LAST)}"


def woman(r):
    return f"{r.choice(FEMALE_FIRST)} {r.choice(LAST)}"


WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
ALLDAYS = WEEKDAYS + ["Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]


def next_day(r):
    i = r.randrange(7)
    return {"a": ALLDAYS[i], "b": ALLDAYS[(i + 1) % 7]}


# ---------------------------------------------------------------------------
# Financial lexicons
# ---------------------------------------------------------------------------

# name, short name, ticker, sector noun, plural sector, kind
_CO = [
    ("Kestrel Semiconductor", "Kestrel", "KSMI", "chipmaker", "chipmakers", "tech"),
    ("Halvorsen Industries", "Halvorsen", "HALV", "industrial group", "industrial groups", "industrial"),
    ("Meridian Freight Lines", "Meridian", "MFRT", "trucking company", "trucking companies", "industrial"),
    ("Corvane Systems", "Corvane", "CRVN", "software maker", "software makers", "tech"),
    ("Brightwater Utilities", "Brightwater", "BWU", "utility", "utilities", "other"),
    ("Aldmoor Pharmaceuticals", "Aldmoor", "ALDM", "drugmaker", "drugmakers", "health"),
    ("Pinecrest Retail Group", "Pinecrest", "PCRG", "retailer", "retailers", "retail"),
    ("Tessaro Foods", "Tessaro", "TSRO", "packaged-food maker", "packaged-food makers", "retail"),
    ("Norvale Energy", "Norvale", "NVLE", "oil and gas producer", "oil and gas producers", "energy"),
    ("Quillon Software", "Quillon", "QLN", "cloud software provider", "cloud software providers", "tech"),
    ("Ostrander Mining", "Ostrander", "OSTM", "copper miner", "copper miners", "energy"),
    ("Lumera Health", "Lumera", "LMRA", "hospital operator", "hospital operators", "health"),
    ("Sablewood Homes", "Sablewood", "SBWH", "homebuilder", "homebuilders", "industrial"),
    ("Vantrell Motors", "Vantrell", "VTRL", "automaker", "automakers", "industrial"),
    ("Orinda Networks", "Orinda", "ORND", "networking equipment maker", "networking equipment makers", "tech"),
    ("Castellan Airlines", "Castellan", "CSTL", "airline", "airlines", "industrial"),
    ("Greyfield Chemicals", "Greyfield", "GRYF", "chemicals maker", "chemicals makers", "industrial"),
    ("Marlowe Apparel", "Marlowe", "MRLW", "apparel retailer", "apparel retailers", "retail"),
    ("Tidewell Logistics", "Tidewell", "TDWL", "logistics company", "logistics companies", "industrial"),
    ("Calder Biosciences", "Calder", "CLDR", "biotech company", "biotech companies", "health"),
    ("Fairhaven Insurance Group", "Fairhaven", "FHIG", "insurer", "insurers", "other"),
    ("Rosslyn Media", "Rosslyn", "RSLM", "media company", "media companies", "other"),
    ("Elmbridge Telecom", "Elmbridge", "ELTC", "telecom operator", "telecom operators", "tech"),
    ("Wexcombe Steel", "Wexcombe", "WXS", "steelmaker", "steelmakers", "industrial"),
    ("Solvika Renewables", "Solvika", "SLVK", "solar developer", "solar developers", "energy"),
    ("Arden Consumer Brands", "Arden", "ARDN", "consumer goods company", "consumer goods companies", "retail"),
    ("Prestwick Hotels", "Prestwick", "PRWK", "hotel operator", "hotel operators", "other"),
    ("Hollis Aerospace", "Hollis", "HLAS", "aerospace supplier", "aerospace suppliers", "industrial"),
    ("Tamsin Payments", "Tamsin", "TMSN", "payments company", "payments companies", "tech"),
    ("Greenlough Agri", "Greenlough", "GRLA", "agribusiness group", "agribusiness groups", "other"),
    ("Verrano Devices", "Verrano", "VRNO", "consumer electronics maker", "consumer electronics makers", "tech"),
    ("Culloden Games", "Culloden", "CLDG", "video game publisher", "video game publishers", "tech"),
    ("Bexley Property Trust", "Bexley", "BXPT", "real estate investment trust", "property companies", "other"),
    ("Marisco Shipping", "Marisco", "MRSC", "container shipping line", "container shipping lines", "industrial"),
    ("Thornbury Beverages", "Thornbury", "THBV", "beverage maker", "beverage makers", "retail"),
    ("Kinloch Medical", "Kinloch", "KNLM", "medical device maker", "medical device makers", "health"),
    ("Ashgrove Data", "Ashgrove", "ASHD", "data center operator", "data center operators", "tech"),
    ("Pellham Packaging", "Pellham", "PLHM", "packaging maker", "packaging makers", "industrial"),
    ("Harlow & Finch", "Harlow & Finch", "HLFN", "department store chain", "department store chains", "retail"),
    ("Drummond Petroleum", "Drummond", "DRMP", "refiner", "refiners", "energy"),
    ("Silverlake Cosmetics", "Silverlake", "SLVC", "beauty company", "beauty companies", "retail"),
    ("Cobalt Ridge Robotics", "Cobalt Ridge", "CBRR", "robotics maker", "robotics makers", "tech"),
    ("Wyndmoor Brewing", "Wyndmoor", "WYBR", "brewer", "brewers", "retail"),
    ("Estervale Pharma", "Estervale", "ESTV", "generic drugmaker", "generic drugmakers", "health"),
]
COMPANIES = [dict(name=n, short=s, ticker=t, sector=sec, plural=pl, kind=k)
             for n, s, t, sec, pl, k in _CO]

_BANKS = [
    ("Harwick & Lowe", "Harwick & Lowe"), ("First Cascadia Bank", "First Cascadia"),
    ("Stanmore Bancorp", "Stanmore"), ("Northgate Trust", "Northgate"),
    ("Bellcourt Capital", "Bellcourt"), ("Ridgeview Financial", "Ridgeview"),
    ("Alder National Bank", "Alder National"), ("Carrow Bank", "Carrow"),
    ("Whitmore Savings Bank", "Whitmore"), ("Langford Securities", "Langford"),
    ("Cordell Brothers", "Cordell"), ("Banque Marchetti", "Marchetti"),
    ("Tavistock Bank", "Tavistock"), ("Emberly Bancshares", "Emberly"),
    ("Granton Commercial Bank", "Granton"), ("Osterfeld Bank", "Osterfeld"),
]
BANKS = [dict(name=n, short=s) for n, s in _BANKS]

PE_FIRMS = ["Blackmere Capital", "Stonegate Partners", "Halcyon Equity", "Ardent Rock Capital",
            "Longmere Partners", "Castlebrook Capital", "Redfern Equity Partners",
            "Silverstrand Capital", "Oakhurst Partners", "Keel Harbor Capital"]
ACTIVISTS = ["Greywolf Capital", "Tarrant Street Partners", "Ironvale Advisors",
             "Maple Point Capital", "Corbel Activist Fund", "Northlight Investors"]

_CB = [
    # tname, short, currency, area adj, area "in ...", head
    ("the Federal Reserve", "Fed", "dollar", "U.S.", "in the United States", "the Fed chair"),
    ("the European Central Bank", "ECB", "euro", "euro zone", "in the euro zone", "the ECB president"),
    ("the Bank of England", "BoE", "pound", "British", "in Britain", "the Bank of England governor"),
    ("the Bank of Japan", "BoJ", "yen", "Japanese", "in Japan", "the BoJ governor"),
    ("the Bank of Canada", "Bank of Canada", "Canadian dollar", "Canadian", "in Canada",
     "the Bank of Canada governor"),
    ("the Reserve Bank of Australia", "RBA", "Australian dollar", "Australian", "in Australia",
     "the RBA governor"),
    ("the Swiss National Bank", "SNB", "Swiss franc", "Swiss", "in Switzerland", "the SNB chairman"),
    ("Sweden's Riksbank", "Riksbank", "Swedish crown", "Swedish", "in Sweden", "the Riksbank governor"),
    ("Norway's central bank", "Norges Bank", "Norwegian crown", "Norwegian", "in Norway",
     "the Norges Bank governor"),
    ("the Reserve Bank of New Zealand", "RBNZ", "New Zealand dollar", "New Zealand",
     "in New Zealand", "the RBNZ governor"),
]
CENTRAL_BANKS = [dict(tname=t, short=s, cur=c, area=a, area_in=i, head=h)
                 for t, s, c, a, i, h in _CB]
CB_NON_US = [cb for cb in CENTRAL_BANKS if cb["short"] != "Fed"]

COUNTRIES = ["Germany", "France", "Italy", "Spain", "Britain", "Japan", "Canada",
             "Australia", "South Korea", "the Netherlands", "Sweden", "Poland", "Mexico",
             "Brazil", "India", "Indonesia"]
COUNTRY_ADJ = ["German", "French", "Italian", "Spanish", "British", "Japanese",
               "Canadian", "Australian", "Dutch", "Swedish", "Polish"]
EU_COUNTRIES = ["Germany", "France", "Italy", "Spain", "the Netherlands", "Belgium",
                "Austria", "Portugal", "Ireland", "Finland"]
EM_COUNTRIES = ["Turkey", "Egypt", "Argentina", "Pakistan", "Nigeria", "Kenya", "Ghana",
                "Sri Lanka", "Colombia", "South Africa"]
US_STATES = ["Texas", "Ohio", "Delaware", "California", "Illinois", "Pennsylvania",
             "Georgia", "Michigan", "Florida", "New Jersey", "Arizona", "North Carolina"]

US_INDEXES = ["the S&P 500", "the Nasdaq Composite", "the Dow Jones Industrial Average",
              "the Russell 2000", "the S&P 500"]
INTL_INDEXES = ["the pan-European Stoxx 600", "Britain's FTSE 100", "Germany's DAX",
                "France's CAC 40", "Italy's FTSE MIB", "Spain's IBEX 35"]

FIN_SECTOR_GROUPS = ["technology shares", "bank stocks", "energy companies",
                     "healthcare stocks", "consumer discretionary names", "industrials",
                     "semiconductor stocks", "utilities and real estate shares",
                     "small-cap stocks", "airline and cruise operators"]
MKT_POS = ["hopes that the Fed will cut rates before the end of the year",
           "a softer-than-expected inflation reading",
           "strong quarterly results from several large technology companies",
           "signs that the labor market is cooling without collapsing",
           "a drop in Treasury yields",
           "progress in trade talks between Washington and Beijing",
           "upbeat comments from Fed officials about the inflation outlook",
           "better-than-expected retail sales figures"]
MKT_NEG = ["hotter-than-expected inflation data from the United States",
           "a profit warning from one of the region's largest industrial companies",
           "renewed trade tensions between the United States and China",
           "a sharp rise in government bond yields",
           "weak factory data from Germany and France",
           "hawkish comments from central bank officials",
           "disappointing guidance from several chipmakers",
           "fresh worries about the health of regional lenders"]

EARN_DRIVERS = ["stronger pricing in North America", "a rebound in travel demand",
                "lower freight and packaging costs", "cost cuts announced last year",
                "robust subscription growth", "a favorable currency effect",
                "higher volumes at its industrial unit", "brisk demand for its premium products",
                "a recovery in orders from China", "tight control of overhead costs"]
EARN_DRAGS = ["higher wage costs squeezed margins", "a stronger dollar weighed on overseas sales",
              "inventory write-downs hit results", "demand from Chinese customers slowed",
              "restructuring charges ate into profit", "heavy discounting hurt margins",
              "higher interest costs offset modest sales growth",
              "a supply disruption forced it to idle a key plant"]
EARN_DRAG_NOUNS = ["soft demand in China", "a costly strike at its main plant",
                   "higher raw material prices", "weaker consumer spending in Europe",
                   "the loss of a major customer", "unfavorable exchange rates",
                   "delays in shipping new products"]
CEO_QUOTES = ["the second half of the year would be stronger than the first",
              "pricing would remain disciplined despite softer demand",
              "the company had no plans to cut its dividend",
              "order backlogs were at a record high",
              "customers were still delaying large purchases",
              "the worst of the inventory correction was behind it",
              "the company would keep investing through the downturn",
              "demand had improved in each month of the quarter"]
BIZ_UNITS = ["European retail", "consumer lending", "legacy hardware", "specialty chemicals",
             "North American trucking", "home appliances", "print advertising",
             "animal health", "industrial coatings", "satellite services", "frozen foods"]

QUARTERS = ["first", "second", "third", "fourth"]


def rating_pair(r):
    """An agency and two adjacent rating notches: {"agency", "hi", "lo"}."""
    scales = {
        "Moody's": ["Aa2", "Aa3", "A1", "A2", "A3", "Baa1", "Baa2", "Baa3", "Ba1", "Ba2",
                    "Ba3", "B1", "B2", "B3", "Caa1"],
        "S&P Global Ratings": ["AA", "AA-", "A+", "A", "A-", "BBB+", "BBB", "BBB-", "BB+",
                               "BB", "BB-", "B+", "B", "B-", "CCC+"],
        "Fitch Ratings": ["AA", "AA-", "A+", "A", "A-", "BBB+", "BBB", "BBB-", "BB+", "BB",
                          "BB-", "B+", "B", "B-", "CCC+"],
    }
    agency = r.choice(sorted(scales))
    sc = scales[agency]
    i = r.randrange(len(sc) - 1)
    return {"agency": agency, "hi": sc[i], "lo": sc[i + 1]}


def deal_funding(r):
    total = r.uniform(2.0, 30.0)
    debt = total * r.uniform(0.25, 0.7)
    return {"total": _fmt_money(total, "billion", "$", 1),
            "debt": _fmt_money(debt, "billion", "$", 1)}


def prob_pair(r):
    a = r.randrange(40, 91, 5)
    b = a - r.randrange(15, 36, 5)
    return {"hi": f"{a}%", "lo": f"{b}%"}


def streak(r):
    m = r.randint(7, 12)
    return {"n": NUM_WORDS[m - r.randint(1, 2)], "m": NUM_WORDS[m]}


def eps_range(r):
    a = r.uniform(1.0, 9.0)
    return f"${a:.2f} to ${a + r.uniform(0.1, 0.4):.2f}"


def rev_range(r):
    a = r.uniform(2.0, 40.0)
    return f"${a:.1f} billion and ${a * r.uniform(1.02, 1.06):.1f} billion"


S: dict = {}      # slot name -> list of strings/records, or callable(rng)

S.update({
    # entities
    "co": COMPANIES,
    "retailer": [c for c in COMPANIES if c["kind"] == "retail"],
    "techco": [c for c in COMPANIES if c["kind"] == "tech"],
    "bank": BANKS,
    "pe": PE_FIRMS,
    "activist": ACTIVISTS,
    "cb": CENTRAL_BANKS,
    "cbx": CB_NON_US,
    "person": person,
    # time
    "weekday": WEEKDAYS,
    "month": MONTHS,
    "qadj": [f"{q}-quarter" for q in QUARTERS],
    "qtr": [f"the {q} quarter" for q in QUARTERS],
    "fy": ["fiscal 2024", "fiscal 2025", "fiscal 2026", "the full year", "the current fiscal year"],
    "year": ["2024", "2025", "2026"],
    "year_past": [str(y) for y in range(2006, 2023)],
    "year_future": [str(y) for y in range(2026, 2031)],
    "half": ["first half", "second half"],
    "next_period": ["the holiday quarter", "the first half of next year", "the coming quarter",
                    "the rest of the fiscal year"],
    "ordinal": word_ord(2, 7),
    "years": word_int(2, 15),
    "years_s": word_int(2, 5),
    "weeks": word_int(2, 12),
    "months": ["12", "18", "24"],
    "mo_n": word_int(3, 11),
    # amounts
    "pct_s": pct(1.0, 9.0),
    "pct_m": pct(5.0, 25.0),
    "pct_l": pct(18.0, 65.0),
    "pct_idx": pct(0.2, 2.4),
    "pct_idx_big": pct(2.5, 4.8),
    "pct_tiny": pct(0.1, 0.9),
    "pct_mo": pct(0.1, 0.6),
    "money_m": money(40, 950),
    "money_bn": money(1.5, 45, "billion"),
    "money_bn_small": money(0.5, 6.0, "billion"),
    "money_tn": money(1.1, 4.2, "trillion"),
    "rev_bn": money(0.6, 28, "billion"),
    "eps": lambda r: f"${r.uniform(0.15, 6.5):.2f}",
    "eps_pair": eps_pair(),
    "eps_range": eps_range,
    "rev_range": rev_range,
    "mpair": money_pair(40, 950),
    "bnpair": money_pair(1.0, 12.0, "billion"),
    "margin_pair": pct_pair(18, 48),
    "opm_pair": pct_pair(9, 26),
    "jobs": integer(400, 9000, 50),
    "count_k": lambda r: f"{r.randint(1100, 9800):,}",
    "bp": lambda r: f"{r.randint(3, 18)} basis points",
    "bp_n": integer(8, 95),
    "bp_step": ["25 basis points", "a quarter of a percentage point", "50 basis points",
                "half a percentage point"],
    "bp_step2": ["50-basis-point", "quarter-point", "25-basis-point", "half-point"],
    "rate": lambda r: f"{r.choice([0.25, 0.5, 0.75, 1.0, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 3.25, 3.5, 3.75, 4.0, 4.25, 4.5, 4.75, 5.25, 5.5]):.2f}%",
    "yield_lvl": pct(3.6, 5.1, 2),
    "yield_corp": pct(4.8, 7.9, 2),
    # earnings phrases
    "earn_driver": EARN_DRIVERS,
    "earn_drag": EARN_DRAGS,
    "earn_drag_n": EARN_DRAG_NOUNS,
    "ceo_quote": CEO_QUOTES,
    "unit": BIZ_UNITS,
    "adj_result": ["broadly in line with expectations", "a clean beat on both sales and profit",
                   "better than feared", "solid on the surface", "mixed at best",
                   "encouraging after two difficult quarters"],
    "cost_item": ["higher energy bills", "the cost of a product recall",
                  "start-up costs at a new plant", "one-off legal charges",
                  "a jump in marketing spending", "higher insurance premiums"],
    "retail_goods": ["back-to-school clothing", "home furnishings", "own-label groceries",
                     "outdoor gear", "beauty products", "small kitchen appliances"],
    "capex_item": ["new production lines", "data center capacity", "fleet upgrades",
                   "store refurbishments", "a new research campus", "automation at its warehouses"],
    "region_sales": ["Europe", "Latin America", "China", "the Middle East", "Southeast Asia"],
    "frac": ["three quarters", "two thirds", "nearly 80%", "about 70%", "more than 75%"],
    "earn_tail": maybe(0.35, [", the company said in a statement", ", according to a regulatory filing",
                              ", the company said on a call with analysts",
                              ", according to figures released on {weekday}"]),
    # markets
    "index": US_INDEXES,
    "eindex": INTL_INDEXES,
    "sector_group": FIN_SECTOR_GROUPS,
    "mkt_pos": MKT_POS,
    "mkt_neg": MKT_NEG,
    "mkt_driver": MKT_POS + MKT_NEG,
    "yield_name": ["benchmark 10-year Treasury note", "two-year Treasury note",
                   "30-year Treasury bond", "German 10-year Bund", "10-year British gilt",
                   "10-year Italian government bond"],
    "gold_px": lambda r: f"${r.uniform(1850, 2750):,.2f}",
    "oil_px": lambda r: f"${r.uniform(62, 94):.2f}",
    "eur_lvl": lambda r: f"${r.uniform(1.04, 1.16):.4f}",
    "vix": dec(16, 34, 1),
    "mkt_co_pos": ["an analyst upgrade", "a report that it had received a takeover approach",
                   "raising its full-year forecast", "winning a large defense contract",
                   "announcing a bigger-than-expected share buyback",
                   "regulators approved its flagship product"],
    "mkt_co_neg": ["a rating downgrade", "a surprise profit warning",
                   "the abrupt departure of its chief executive",
                   "disclosing an accounting review", "losing a key patent case"],
    "holiday": ["Thanksgiving", "Independence Day", "Easter", "Christmas", "Labor Day"],
    "vol_bn": dec(8.2, 11.5, 1),
    "mkt_open": ["higher", "lower", "flat", "muted", "firmer", "softer"],
    "mkt_event": ["the release of consumer price data", "minutes from the Fed's latest meeting",
                  "a speech by the Fed chair", "earnings from several large banks",
                  "the monthly jobs report", "a closely watched auction of 10-year notes"],
    "sp_target": lambda r: f"{r.randrange(5200, 6900, 50):,}",
    "aud": lambda r: f"{r.uniform(63, 71):.2f} U.S. cents",
    "gas_event": ["an outage at a Norwegian processing plant",
                  "unplanned maintenance at a major LNG terminal",
                  "a strike at Australian export facilities",
                  "a sharp drop in wind power output"],
    "dow_pts": integer(90, 520),
    "btc": lambda r: f"${r.randrange(48000, 96000, 1000):,}",
    "wheat": lambda r: f"${r.uniform(5.2, 7.4):.2f}",
    "eu_data": ["manufacturing", "industrial production", "retail sales", "business sentiment"],
    "china_event": ["trade data due later in the week", "a key policy meeting in Beijing",
                    "the release of Chinese inflation figures", "a decision on lending rates"],
    "streak": streak,
    "usdjpy": ["150", "152", "155", "158", "160"],
    "recovery": ["strong", "swift", "broad-based", "rapid", "durable"],
    "mkt_tail": maybe(0.3, [", traders said", ", according to LSEG data",
                            ", market participants said", ", strategists said"]),
    # banking
    "cet1": pct(11.0, 15.5),
    "cet1_low": pct(8.1, 10.6),
    "rote": pct(9.0, 14.5),
    "rote_target": ["15%", "16%", "17%", "18%"],
    "mort_rate": pct(6.2, 7.8, 2),
    "pct_ch": pct(3.2, 5.9, 2),
    "bank_unit": ["wealth management", "credit card", "asset custody", "auto lending",
                  "Asian retail banking", "mortgage servicing", "equipment finance"],
    "tenure": integer(8, 32, commas=False),
    "branches": integer(18, 140, commas=False),
    "bank_region": ["the Midwest", "northern England", "the Pacific Northwest", "rural Scotland",
                    "the Southeast", "upstate New York", "the Rhineland"],
    "eff_pair": pct_pair(52, 68, gap=(0.8, 4.5)),
    "loan_seg": ["commercial real estate", "leveraged lending", "agricultural", "shipping",
                 "office property"],
    "regulator_us": ["Bank regulators", "The Federal Reserve and the FDIC", "U.S. regulators",
                     "The Office of the Comptroller of the Currency", "Federal banking agencies"],
    "bank_thresh": ["$100 billion", "$250 billion", "$50 billion"],
    "nim": pct(1.6, 3.4, 2),
    "hours": word_int(6, 14),
    "us_state": US_STATES,
    "bank_tail": maybe(0.3, [", the bank said", ", according to people familiar with the matter",
                             ", the lender said in a statement"]),
    # macro
    "country": COUNTRIES,
    "country_adj": COUNTRY_ADJ,
    "eu_country": EU_COUNTRIES,
    "em_country": EM_COUNTRIES,
    "infl": pct(1.8, 4.6),
    "infl_em": pct(18, 65),
    "payrolls": integer(95000, 310000, 1000),
    "unemp_move": lambda r: r.choice(["ticked up to", "edged down to", "was unchanged at",
                                      "rose to", "fell to"]) + f" {r.uniform(3.4, 4.6):.1f}%",
    "unemp": pct(3.4, 6.8),
    "gdp": pct(0.6, 3.9),
    "gdp_small": pct(0.3, 2.8),
    "gdp_neg": pct(0.1, 0.8),
    "goods": ["furniture and electronics", "clothing", "cars and gasoline",
              "restaurant meals", "home improvement products"],
    "pmi": dec(44.0, 49.6, 1),
    "wage": pct(2.8, 6.2),
    "starts": lambda r: f"{r.uniform(1.21, 1.49):.2f} million",
    "claims_chg": integer(3000, 19000, 1000),
    "claims": integer(198000, 252000, 1000),
    "month_day": lambda r: f"{r.choice(MONTHS)} {r.randint(1, 28)}",
    "deficit_pct": pct(2.1, 7.4),
    "share": ["two thirds", "70%", "about 60%", "more than half"],
    "jolts": lambda r: f"{r.uniform(7.1, 8.9):.1f} million",
    "youth": pct(11, 28),
    "save_rate": pct(2.9, 5.6),
    "hiring_sectors": ["healthcare, government and leisure and hospitality",
                       "construction, retail and professional services",
                       "healthcare and social assistance",
                       "restaurants, hotels and transportation"],
    "macro_tail": maybe(0.3, [", official figures showed", ", data released on {weekday} showed",
                              ", according to government figures"]),
    # central banks
    "vote": ["7-2", "6-3", "5-4", "8-1"],
    "prob_pair": prob_pair,
    "conf_city": ["Frankfurt", "Jackson Hole", "Sintra", "Washington", "Zurich", "London"],
    "target": ["its 2% target", "target", "the bank's 2% goal"],
    "cb_worry": ["sticky services inflation", "a sharp slowdown in hiring",
                 "the tightening of financial conditions", "rising long-term bond yields",
                 "the risk of cutting rates too early", "weak household spending"],
    "cuts_n": ["two", "three", "two more", "at least two"],
    "cuts_total": word_int(2, 6),
    "cum_bp": ["425", "450", "500", "525", "350", "400"],
    "month_future": ["the summer", "September", "the end of the year", "next spring", "December"],
    "cb_quote": ["inflation was moving in the right direction but was not yet beaten",
                 "the bank would not hesitate to tighten policy further if needed",
                 "the labor market had cooled more than expected",
                 "policy was well positioned to respond to incoming data",
                 "the economy was proving more resilient than forecast"],
    "fsr_risk": ["private credit", "commercial real estate",
                 "hedge fund leverage in government bond markets",
                 "high valuations in equity markets", "cyber attacks on payment systems"],
    "boj_action": ["end its yield curve control policy", "stop buying exchange-traded funds",
                   "scale back its purchases of government bonds",
                   "raise its short-term policy rate for the first time in years"],
    "cb_tail": maybe(0.3, [", according to a statement", ", the bank said",
                           ", in a decision widely expected by economists"]),
    # credit
    "rd": rating_pair,
    "tranches": word_int(2, 5),
    "tenor": ["10", "20", "30", "7", "12"],
    "hy_spread": integer(310, 520, 5),
    "credit_event": ["an expected rise in Treasury yields", "the summer slowdown",
                     "the U.S. election", "a busy week of central bank meetings"],
    "def_rate": pct(2.1, 5.8, 2),
    "agency2": ["Fitch Ratings", "Moody's", "PitchBook LCD", "S&P Global Ratings"],
    "pc_rate": ["600 basis points", "700 basis points", "650 basis points", "750 basis points"],
    "pc_rate_pct": pct(10.5, 15.5, 1),
    "bond_px": integer(28, 72),
    "bond_pts": word_int(2, 9),
    "cover": ["four", "five", "six", "three", "seven"],
    "cds": integer(180, 890, 5),
    "ccc_yield": ["13%", "14%", "15%", "16%"],
    "muni_project": ["school construction", "water system upgrades", "transit projects",
                     "hospital expansions", "bridge repairs"],
    "coupon": pct(0.5, 4.0, 3),
    "share_big": ["90%", "85%", "nine in ten loans", "more than 80%"],
    "end_market": ["housing", "auto production", "freight volumes", "semiconductor demand",
                   "commercial aviation", "retail spending"],
    "funding_src": ["private placements", "asset-backed securities", "direct lenders",
                    "the euro bond market", "private credit funds"],
    "recovery_c": integer(38, 61),
    "credit_tail": maybe(0.3, [", according to data compiled by Bloomberg",
                               ", people familiar with the matter said",
                               ", according to a filing"]),
    # M&A
    "share_px": lambda r: f"${r.uniform(12, 240):.2f}",
    "prem": pct(18, 62, 0),
    "stake": pct(4.1, 14.9),
    "reg_region": ["Brussels", "Washington", "Britain", "China", "Australia"],
    "reg_body": ["China's market regulator", "the European Commission",
                 "the U.S. Federal Trade Commission", "Britain's Competition and Markets Authority"],
    "rank": ["second", "third", "fourth", "fifth"],
    "region_m": ["Europe", "North America", "Asia", "Latin America", "the United States"],
    "ratio": lambda r: f"{r.uniform(0.21, 1.85):.4f}",
    "months_after": word_int(5, 16),
    "mult": ["three times", "twice", "four times", "two and a half times", "five times"],
    "mult_ebitda": dec(8.5, 19.5, 1),
    "approval": pct(86, 99, 0),
    "funding": deal_funding,
    "liability": ["pension deficit", "legacy litigation", "environmental liabilities",
                  "asbestos claims", "unfunded retiree healthcare obligations"],
    "mna_tail": maybe(0.3, [", people familiar with the matter said",
                            ", according to a statement", ", a spokesperson said"]),
})

TEMPLATES: dict[str, list[str]] = {}

TEMPLATES["earnings"] = [
    "{co} reported {qadj} revenue of {rev_bn}, up {pct_m} from a year earlier, as demand for its core products held up better than analysts had feared.",
    "Shares of {co} fell {pct_m} in after-hours trading after the {co.sector} cut its full-year profit forecast, citing weaker orders and higher input costs.",
    "{co.short} earned {eps_pair.hi} a share in {qtr}, beating the average analyst estimate of {eps_pair.lo}, helped by {earn_driver}.",
    "{co}, the {co.sector}, reported adjusted earnings of {eps_pair.lo} a share, short of the {eps_pair.hi} Wall Street had expected, as {earn_drag}.",
    "Net income at {co.short} rose to {mpair.hi} in {qtr} from {mpair.lo} a year ago{earn_tail}.",
    "{co} raised its guidance for {fy} and now expects adjusted earnings of {eps_range} a share, above its previous outlook.",
    "Gross margin at {co.short} narrowed to {margin_pair.lo} from {margin_pair.hi} a year earlier, reflecting heavier promotions and higher freight costs.",
    "{retailer.short} said comparable sales rose {pct_s} during the holiday period, while online orders grew {pct_m}{earn_tail}.",
    "{co.short} chief executive {person} told analysts on a conference call that {ceo_quote}.",
    "Analysts at {bank} said {co.short}'s results were {adj_result}, but warned that guidance for the coming quarter looked conservative.",
    "{co} posted a(n) {qadj} net loss of {mpair.lo}, compared with a profit of {mpair.hi} in the same period last year.",
    "Revenue from {techco.short}'s cloud division jumped {pct_l} to {rev_bn}, making it the company's fastest-growing business for a(n) {ordinal} consecutive quarter.",
    "{co} said it would buy back up to {money_bn_small} of its own shares and raise its quarterly dividend by {pct_s}.",
    "Adjusted EBITDA at {co} came in at {money_m}, slightly below consensus, as the {co.sector} absorbed {cost_item}.",
    "{co.short} shares have gained {pct_l} this year, and the {qadj} report is seen as a test of whether the rally can continue.",
    "Free cash flow at {co.short} improved to {mpair.hi} in {qtr}, giving management room to pay down debt ahead of a bond maturity in {year_future}.",
    "For {fy}, {co} now expects revenue of between {rev_range}, roughly in line with analyst expectations.",
    "Investors had been bracing for a weak quarter at {co}, but the {co.sector} delivered higher sales in every region except {region_sales}.",
    "{co.short} took a(n) {money_m} impairment charge related to its {unit} business, which it has been trying to sell since last year.",
    "Despite the earnings beat, {co.short} stock slipped {pct_s} as investors focused on a rise in inventories and a softer outlook for {next_period}.",
    "Sales at {retailer} rose {pct_s} on a comparable basis in the latest quarter, helped by strong demand for {retail_goods}.",
    "{co} said currency swings cut about {money_m} from {qtr} revenue, and that organic growth excluding those effects was {pct_s}.",
    "Earnings season has been kinder than expected, with {frac} of S&P 500 companies that have reported so far beating profit estimates.",
    "{co.short}'s finance chief, {person}, said the company expects capital spending of about {money_bn_small} next year, largely on {capex_item}.",
    "{co} swung to a net profit of {money_m} in {qtr} after a restructuring program that eliminated about {jobs} jobs.",
    "Wall Street expects {co} to report earnings of {eps} a share on revenue of {rev_bn} when it releases {qadj} results on {weekday}.",
    # --- probe-only templates (last N_PROBE_TEMPLATES) ---
    "{co.short} warned that profit for {fy} would come in at the low end of its range, blaming {earn_drag_n}.",
    "Revenue at {co}'s largest division climbed {pct_m} year on year, while its smaller {unit} unit shrank for a(n) {ordinal} straight quarter.",
    "{co}'s {qadj} operating margin widened to {opm_pair.hi} from {opm_pair.lo}, as price increases outpaced cost inflation.",
    "Analysts had forecast {qadj} revenue of {bnpair.lo} for {co.short}, but the {co.sector} reported {bnpair.hi}, sending its shares higher before the opening bell.",
    "{co.short} reports results on {weekday}, and options pricing implies a move of about {pct_s} in either direction after the release.",
    "The board of {co} approved a special dividend of {eps} a share after the {co.sector} ended the year with more than {money_bn_small} in net cash.",
    "{techco} said subscription revenue rose {pct_m} in {qtr} and that the number of customers paying more than $100,000 a year grew to {count_k}.",
    "Shares of {co} jumped {pct_m} on {weekday} after it reported better-than-expected {qadj} earnings and said {ceo_quote}.",
]

TEMPLATES["markets"] = [
    "{index} rose {pct_idx} on {weekday}, led by {sector_group}, as investors cheered {mkt_pos}.",
    "Stocks slid across Europe, with {eindex} closing down {pct_idx} after {mkt_neg}.",
    "The yield on the {yield_name} climbed {bp} to {yield_lvl}, its highest level since {month}, as traders pared bets on rate cuts.",
    "Gold rose {pct_idx} to {gold_px} an ounce as a weaker dollar and geopolitical jitters drove demand for safe-haven assets{mkt_tail}.",
    "Brent crude futures settled {pct_idx} lower at {oil_px} a barrel after data showed an unexpected build in U.S. inventories.",
    "The dollar slipped {pct_tiny} against a basket of major currencies on {weekday}, while the euro climbed to {eur_lvl}.",
    "Volatility picked up sharply, with the Cboe Volatility Index jumping to {vix}, its highest reading in {weeks} weeks{mkt_tail}.",
    "{co} was the biggest gainer on {index}, surging {pct_m} after {mkt_co_pos}.",
    "Trading was thin ahead of the {holiday} holiday, with about {vol_bn} billion shares changing hands on U.S. exchanges, below the 20-day average.",
    "Emerging market stocks fell for a(n) {ordinal} straight session as money flowed back into U.S. assets and the dollar strengthened.",
    "Technology shares led the selloff, with the Nasdaq Composite dropping {pct_idx} as investors rotated out of richly valued chipmakers and software names.",
    "Japan's Nikkei average ended {pct_idx} higher on {weekday}, helped by a weaker yen that brightened the outlook for exporters such as automakers.",
    "Copper prices hit a(n) {mo_n}-month high on the London Metal Exchange, buoyed by supply disruptions in Chile and signs of stronger Chinese demand.",
    "Strategists at {bank} raised their year-end target for the S&P 500 to {sp_target}, citing resilient earnings and cooling inflation.",
    "Investors poured {money_bn} into U.S. equity funds in the latest week, the largest weekly inflow since {month}, according to EPFR data.",
    "The gap between two-year and 10-year Treasury yields narrowed to {bp_n} basis points, a move traders attributed to {mkt_driver}.",
    "Regional bank stocks underperformed, with the KBW regional bank index falling {pct_s} amid renewed worries about commercial real estate exposure.",
    "Futures tied to {index} pointed to a(n) {mkt_open} open, with traders awaiting {mkt_event} later in the day.",
    "European shares hovered near a record on {weekday}, with gains in healthcare and luxury goods offsetting losses among miners{mkt_tail}.",
    "Short sellers have increased bets against {co}, with short interest rising to {pct_m} of shares available for trading.",
    "Hong Kong's Hang Seng index tumbled {pct_idx_big} as property developers sold off on concerns about their ability to refinance debt.",
    "The Australian dollar weakened to {aud} after the central bank signaled that rates would stay on hold for longer than markets had priced.",
    "European natural gas prices jumped {pct_m} after {gas_event}, raising fears of tighter supply heading into winter.",
    "After a choppy session, the Dow Jones Industrial Average closed up {dow_pts} points, or {pct_idx}, while the Nasdaq ended little changed.",
    "Bitcoin fell below {btc} for the first time in {weeks} weeks, dragging down shares of crypto exchanges and mining companies.",
    "Wheat futures in Chicago rose {pct_s} to {wheat} a bushel after dry weather in the Black Sea region threatened crop yields.",
    # --- probe-only ---
    "The euro fell to a(n) {mo_n}-week low against the dollar after weak {eu_data} data from {eu_country} reinforced expectations of further ECB rate cuts.",
    "Investors sold long-dated government bonds, pushing the 30-year Treasury yield up {bp} to {yield_lvl} amid concerns about heavy issuance.",
    "Shares of {co} sank {pct_m} in heavy trading, making it the worst performer on {index} after {mkt_co_neg}.",
    "Asian markets opened mixed on {weekday}, with Seoul's Kospi up {pct_idx} and Shanghai stocks slightly lower ahead of {china_event}.",
    "Silver outperformed other precious metals, rallying {pct_s} on the session as demand from solar panel makers remained strong{mkt_tail}.",
    "{index} has now gained in {streak.n} of the past {streak.m} weeks, its longest winning streak since {year_past}, as investors cheered {mkt_pos}.",
    "Currency traders said the yen's slide past {usdjpy} per dollar had increased the risk of intervention by Japanese authorities.",
    "Analysts at {bank} cut European equities to underweight, arguing that valuations already price in a(n) {recovery} economic recovery.",
]

TEMPLATES["banking"] = [
    "{bank} said it would cut about {jobs} jobs over the next two years as part of a cost-reduction plan aimed at lifting returns.",
    "Net interest income at {bank} rose {pct_m} to {money_bn_small} in {qtr}, as higher rates on loans outpaced the cost of deposits.",
    "{bank.short} set aside {mpair.hi} for potential loan losses, up from {mpair.lo} a year earlier, reflecting weakness in its commercial property book.",
    "Regulators ordered {bank} to strengthen its anti-money-laundering controls after an examination found gaps in how it monitored transactions.",
    "Deposits at small and regional lenders stabilized in {month}, according to Federal Reserve data, easing fears of another wave of withdrawals.",
    "{bank.short} chief executive {person} said the bank's capital position remained strong, with a common equity tier 1 ratio of {cet1}.",
    "Investment banking fees at {bank.short} climbed {pct_l} year on year, driven by a revival in debt underwriting and a pickup in advisory work.",
    "{bank} agreed to pay {money_m} to settle allegations that it misled customers about overdraft fees, without admitting wrongdoing.",
    "Mortgage applications fell {pct_s} last week as the average 30-year fixed rate rose to {mort_rate}, the Mortgage Bankers Association said.",
    "{bank} is weighing a sale of its {bank_unit} unit, which could fetch as much as {money_bn_small}{bank_tail}.",
    "{bank.short}'s return on tangible equity improved to {rote}, inching closer to the {rote_target} target it set for {year_future}.",
    "Credit card delinquencies rose again in {month}, with the charge-off rate at {bank} reaching {pct_ch}, its highest since {year_past}.",
    "Trading revenue at {bank.short} rose {pct_m} in {qtr}, as volatile markets boosted client activity in fixed income, currencies and commodities.",
    "Analysts said {bank.short}'s decision to raise its dividend signaled confidence that it can absorb higher capital requirements under the new rules.",
    "{bank} appointed {person} as chief risk officer, replacing a(n) {tenure}-year veteran of the bank who is retiring at the end of the year.",
    "The loan book at {bank.short} grew {pct_s} in {qtr}, led by lending to small businesses, while mortgage balances were broadly flat.",
    "{bank} passed this year's stress test comfortably, with its capital ratio falling to a low of {cet1_low} under the most severe scenario.",
    "European bank shares have rallied {pct_l} this year as higher interest rates lifted lending margins after a decade of near-zero borrowing costs.",
    "{bank.short} said it would close {branches} branches across {bank_region}, blaming a shift to mobile banking that has sharply reduced foot traffic.",
    "Savers have moved {money_bn} into money market funds since {month}, pressuring banks to raise the rates they pay on deposits.",
    "The efficiency ratio at {bank}, a measure of costs relative to revenue, improved to {eff_pair.lo} from {eff_pair.hi} a year earlier.",
    "{bank} plans to launch a digital-only bank in {country} next year, targeting younger customers who rarely visit branches.",
    "Shares of {bank} dropped {pct_m} after the lender disclosed a(n) {money_m} loss tied to a single borrower in its {loan_seg} portfolio.",
    "Client assets in {bank.short}'s wealth management division reached a record {money_tn}, as rising markets and net inflows lifted balances.",
    "{regulator_us} proposed rules that would require lenders with more than {bank_thresh} in assets to hold more long-term debt that can absorb losses.",
    "{bank.short} reported a(n) {pct_m} rise in {qadj} profit, beating estimates as lower-than-expected provisions offset weaker mortgage income{bank_tail}.",
    # --- probe-only ---
    "The lender said its net interest margin narrowed to {nim} in {qtr}, as customers shifted savings into higher-yielding term deposits.",
    "{bank} has hired {bank2} to advise on a possible capital raise after losses in its property portfolio eroded its buffers{bank_tail}.",
    "A group of regional banks in {us_state} agreed to merge their payment processing operations to cut costs and compete with larger rivals.",
    "{bank.short}'s chief financial officer, {person}, said deposit costs were likely to peak in {qtr} before easing next year.",
    "Customer complaints about {bank} jumped after a technology outage left account holders unable to log in for nearly {hours} hours.",
    "{bank} said its common equity tier 1 ratio stood at {cet1} at the end of {qtr}, comfortably above the regulatory minimum.",
    "Consumer lending at {bank.short} slowed in {qtr}, with new auto loan originations down {pct_m} as higher rates deterred buyers.",
    "{bank} said it would repay the remaining {money_bn_small} it borrowed under the central bank's term funding scheme ahead of schedule.",
]

TEMPLATES["macro"] = [
    "U.S. consumer prices rose {pct_mo} in {month}, bringing the annual inflation rate to {infl}, slightly above economists' forecasts.",
    "The economy added {payrolls} jobs last month, and the unemployment rate {unemp_move}, the Labor Department said.",
    "{country}'s economy grew at an annualized rate of {gdp} in {qtr}, supported by robust consumer spending and a rebound in business investment.",
    "Retail sales in {country} fell {pct_mo} in {month} from the previous month, as households cut back on spending on {goods}{macro_tail}.",
    "Manufacturing activity in the euro zone contracted for a(n) {ordinal} consecutive month, with the purchasing managers' index slipping to {pmi}.",
    "Economists at {bank} now expect {country} to slip into a mild recession next year, citing tighter credit and weak export demand.",
    "China's exports rose {pct_s} year on year in {month}, beating forecasts, though imports fell as domestic demand remained sluggish.",
    "The U.S. trade deficit widened to {money_bn} in {month}, as imports of consumer goods outpaced a modest rise in exports.",
    "Wage growth in {country} slowed to {wage} in the three months to {month}, a development likely to reassure policymakers worried about inflation.",
    "Housing starts fell {pct_m} in {month} to an annual rate of {starts}, the lowest since {year_past}, as high mortgage rates weighed on builders.",
    "The government of {country} cut its growth forecast for {year} to {gdp_small}, blaming weaker global trade and a slowdown in its main export markets.",
    "Initial jobless claims fell by {claims_chg} to {claims} in the week ended {month_day}, suggesting the labor market remains resilient.",
    "Consumer confidence in {country} dropped to a(n) {mo_n}-month low in {month}, as households grew more pessimistic about prices and job security.",
    "The budget deficit in {em_country} reached {deficit_pct} of gross domestic product last year, prompting the finance ministry to announce spending cuts.",
    "Producer prices, a gauge of inflation in the pipeline, rose {pct_mo} last month, driven largely by higher costs for energy and transportation.",
    "Industrial output in {country} unexpectedly declined {pct_tiny} in {month}, weighed down by lower production of cars and chemicals{macro_tail}.",
    "Economists polled by Reuters expect core inflation, which strips out food and energy prices, to ease to {infl} by the end of {year}.",
    "The International Monetary Fund cut its forecast for global growth next year to {gdp_small}, warning that trade tensions and high debt pose risks.",
    "Household spending accounts for {share} of the economy, so the squeeze on real incomes is being closely watched by {country_adj} policymakers.",
    "Business investment rose {pct_s} in {qtr}, driven by spending on software and equipment, even as investment in structures continued to decline.",
    "Job openings fell to {jolts} in {month}, the fewest in {years} years, a sign that demand for workers is gradually cooling.",
    "Inflation in {eu_country} eased to {infl} in {month}, its lowest level in more than {years} years, as energy prices fell{macro_tail}.",
    "Remittances and tourism receipts helped narrow {em_country}'s current account deficit to {deficit_pct} of GDP, easing pressure on its currency.",
    "Rents in {country} rose {pct_s} over the past year, outpacing wage growth and adding to a cost-of-living squeeze on younger households.",
    "Economists said the unexpected jump in {month} payrolls was driven by hiring in {hiring_sectors}.",
    "{country}'s economy contracted {gdp_neg} quarter on quarter in {qtr}, the first decline in {years} years, the statistics agency said.",
    # --- probe-only ---
    "Factory orders in {eu_country} rebounded {pct_s} in {month}, driven by large contracts for aircraft and ships, official data showed.",
    "U.S. productivity growth picked up to {gdp} in {qtr}, which economists said could allow wages to rise without fueling inflation.",
    "Youth unemployment in {country} climbed to {youth}, prompting calls for the government to expand apprenticeships and training programs.",
    "Import prices fell {pct_mo} last month as a stronger currency made foreign goods cheaper, the {country_adj} statistics office said.",
    "A closely watched survey of small businesses showed optimism falling to its lowest level since {year_past}, with owners citing inflation as their biggest problem.",
    "The finance ministry in {country} expects the economy to grow {gdp_small} in {year}, with exports recovering as global demand improves.",
    "The personal saving rate fell to {save_rate} in {month}, suggesting American consumers are drawing down the cushions they built during the pandemic.",
    "Annual inflation in {em_country} surged to {infl_em} in {month}, driven by food prices and a sharp depreciation of the local currency.",
]

TEMPLATES["central_banks"] = [
    "{cb.tname} left its benchmark interest rate unchanged at {rate}, but signaled that it could begin cutting borrowing costs later this year.",
    "{cb.tname} raised rates by {bp_step} to {rate}, the highest level in {years} years, and said further tightening could not be ruled out.",
    "{cb.short} policymakers voted {vote} to cut the policy rate, with the dissenters arguing that inflation pressures remained too strong.",
    "Minutes of the {cb.short}'s {month} meeting showed that several officials were worried about {cb_worry}.",
    "Traders now see a(n) {prob_pair.hi} chance that the {cb.short} will cut rates at its next meeting, up from about {prob_pair.lo} a week ago.",
    "The {cbx.cur} fell {pct_tiny} against the dollar after {cbx.tname} surprised markets with a larger-than-expected rate cut.",
    "Speaking at a conference in {conf_city}, {cb.short} policymaker {person} said rates would need to stay restrictive until inflation was clearly heading back to {target}.",
    "{cb.tname} said it would slow the pace at which it shrinks its balance sheet, starting in {month}{cb_tail}.",
    "In its quarterly monetary policy report, {cb.tname} cut its growth forecast and projected that inflation would return to target by {year_future}.",
    "Bonds rallied after {cb.head} said the bank was in no hurry to raise rates further, a comment investors read as dovish.",
    "The decision to hold rates was unanimous, {cb.tname} said, though members noted that risks to the {cb.area} inflation outlook were tilted to the upside.",
    "Analysts at {bank} expect {cb.tname} to deliver {cuts_n} quarter-point rate cuts this year, taking the policy rate to {rate} by December.",
    "{cbx.tname} intervened in the currency market for the first time since {year_past}, selling foreign reserves to support the slumping {cbx.cur}.",
    "{cb.tname} kept its key rate at {rate} and reiterated that future decisions would depend on incoming data{cb_tail}.",
    "Former {cb.short} officials have criticized the bank for being too slow to respond to rising prices, arguing that its forecasts were consistently too optimistic.",
    "Policymakers at {cb.tname} have raised borrowing costs by a cumulative {cum_bp} basis points since the tightening cycle began in {year_past}.",
    "The {cb.short}'s preferred measure of underlying inflation eased to {infl} in {month}, bolstering the case for a rate cut at the next meeting.",
    "{cb.tname} unveiled a new lending facility for banks facing deposit outflows, offering loans of up to {years_s} years against high-quality collateral.",
    "In a speech on {weekday}, {cb.short} policymaker {person} said the labor market had come into better balance but it was too early to declare victory over inflation.",
    "Bond yields fell sharply after {cb.tname} dropped a reference to further tightening from its statement, which investors took as a sign that hikes were over.",
    "Investors will scrutinize the Fed's updated projections on {weekday} for clues about how many rate cuts officials expect in {year}.",
    "The Bank of Japan said on {weekday} it would {boj_action}, a historic shift away from decades of ultra-loose monetary policy.",
    "Officials at {cb.tname} warned that household debt remained elevated and that a sharp rise in unemployment could trigger a wave of mortgage defaults.",
    "{cb.head} told lawmakers that {cb_quote}, adding that the bank was prepared to act if conditions deteriorated.",
    "Inflation expectations among households {cb.area_in} have drifted higher, a worrying sign for {cb.tname} as it weighs whether to keep rates on hold.",
    "{cb.tname} cut its key rate by {bp_step} to {rate}, citing a faster-than-expected decline in inflation and signs of weakening demand{cb_tail}.",
    # --- probe-only ---
    "Economists said the {cb.short} was likely to keep rates on hold until at least {month_future}, given stubborn services inflation and a tight labor market.",
    "The latest financial stability report from {cb.tname} flagged risks from {fsr_risk}, though it said the banking system remained resilient.",
    "{cb.tname} surprised economists by holding rates steady at {rate}, while most had expected a cut of {bp_step}.",
    "Two-year government bond yields rose {bp} after {cb.head} pushed back against market expectations of imminent rate cuts.",
    "{cb.tname} has now cut rates {cuts_total} times since {month} of last year, bringing its policy rate down to {rate}.",
    "Several {cb.short} officials signaled in recent interviews that they favored a pause, arguing that earlier hikes had yet to work through the economy.",
    "A review of the monetary policy framework by {cb.tname} will examine whether its inflation target and communication tools remain fit for purpose.",
    "The minutes revealed a split among {cb.short} policymakers, with some favoring a(n) {bp_step2} hike and others preferring to wait for more data.",
]

TEMPLATES["credit"] = [
    "{rd.agency} downgraded {co} to {rd.lo} from {rd.hi}, citing rising leverage after the company's debt-funded acquisition of a rival.",
    "{co} sold {money_bn_small} of bonds in a(n) {tranches}-part deal, with the longest-dated {tenor}-year notes priced to yield {yield_corp}.",
    "Spreads on U.S. high-yield bonds widened to {hy_spread} basis points over Treasuries, the widest since {month}, as investors grew wary of a slowdown.",
    "Investment-grade issuance topped {money_bn} this week as companies rushed to lock in borrowing costs ahead of {credit_event}.",
    "{pe} is seeking to raise {money_bn_small} in leveraged loans to fund its buyout of {co}{credit_tail}.",
    "Default rates among leveraged loan borrowers climbed to {def_rate} in {month}, the highest since {year_past}, according to {agency2}.",
    "{co} has hired restructuring advisers as it prepares for talks with creditors over {money_m} of bonds maturing next year.",
    "Private credit funds have stepped in to finance deals that banks were unwilling to underwrite, charging as much as {pc_rate} over the benchmark rate.",
    "S&P Global Ratings revised its outlook on {country} to negative from stable, warning that widening budget deficits could weigh on its credit profile.",
    "Bonds issued by {co} fell to about {bond_px} cents on the dollar after the company skipped an interest payment and entered a 30-day grace period.",
    "Orders for the new bonds peaked at more than {cover} times the amount on offer, allowing {co.short} to tighten pricing by {bp}.",
    "Fitch affirmed {co}'s rating with a stable outlook, noting that solid cash flow should allow the {co.sector} to reduce debt over the next two years.",
    "Credit default swaps on {co} widened sharply, with the cost of insuring its debt against default for five years rising to {cds} basis points.",
    "Companies rated in the lowest investment-grade tier face about {money_bn} of maturities next year, raising the risk of a wave of downgrades to junk.",
    "{co} filed for Chapter 11 bankruptcy protection in {us_state}, listing liabilities of {money_bn_small} and securing {money_m} of debtor-in-possession financing.",
    "Yields on bonds rated triple-C, the riskiest tier of the junk market, have climbed above {ccc_yield}, effectively shutting out weaker borrowers.",
    "{bank} arranged a(n) {money_bn_small} revolving credit facility for {co}, replacing an existing line that was due to expire in {year_future}.",
    "Municipal bond sales in {us_state} surged in {month}, as local governments sought to finance {muni_project} before borrowing costs rise further.",
    "Holders of {co}'s senior notes agreed to extend maturities by {years_s} years in exchange for a higher coupon and additional collateral.",
    "Sales of collateralized loan obligations have rebounded this year, with new issuance reaching {money_bn} through {month}, according to {agency2}.",
    "{co} priced {money_m} of convertible notes due {year_future} with a coupon of {coupon} and a conversion premium of {pct_m}.",
    "Covenant-lite loans now make up about {share_big} of the leveraged loan market, leaving lenders with fewer protections if borrowers run into trouble.",
    "Moody's said {co}'s liquidity was adequate for the next {months} months, but warned that a prolonged downturn in {end_market} would pressure its ratings.",
    "Sovereign bond spreads for {em_country} tightened after the government reached a staff-level agreement with the IMF on a(n) {money_bn_small} loan program.",
    "Distressed debt investors have been buying the loans of {co} at steep discounts, betting on a recovery once the company restructures its balance sheet.",
    "Corporate treasurers are turning to {funding_src} to refinance debt, after banks tightened lending standards for a(n) {ordinal} straight quarter.",
    # --- probe-only ---
    "{rd.agency} upgraded {co} to {rd.hi} from {rd.lo}, citing a sustained reduction in debt and stronger free cash flow.",
    "Bonds of {co} due in {year_future} rallied {bond_pts} points after the {co.sector} said it would sell a division and use the proceeds to repay debt.",
    "Green bond issuance slowed to {money_bn} in {qtr}, as higher rates and scrutiny of sustainability claims deterred some borrowers.",
    "{co} is in talks with lenders to loosen the covenants on its {money_m} term loan after earnings fell short of the required levels{credit_tail}.",
    "Commercial real estate borrowers face about {money_bn} of maturing loans this year, rating agencies warned, with office properties most at risk.",
    "Investors demanded a premium of about {bp} to buy the new bonds from {co}, compared with the yields on its existing debt.",
    "The recovery rate on defaulted first-lien loans has fallen to around {recovery_c} cents on the dollar, well below the long-term average.",
    "{pe} agreed to provide {co} with a(n) {money_m} rescue loan carrying an interest rate of {pc_rate_pct}, according to a securities filing.",
]

TEMPLATES["mna"] = [
    "{co} agreed to buy {co2} for {money_bn} in cash, or {share_px} a share, a premium of {prem} to its closing price on {weekday}.",
    "{pe} is nearing a deal to take {co} private in a transaction valued at about {money_bn} including debt{mna_tail}.",
    "Shares of {co} jumped {pct_l} after {co2} disclosed a(n) {stake} stake and said it was exploring a possible takeover.",
    "Antitrust regulators in {reg_region} opened an in-depth investigation into {co}'s proposed acquisition of {co2}, citing concerns about competition among {co2.plural}.",
    "The board of {co} rejected an unsolicited offer from {co2}, saying the {money_bn} bid significantly undervalued the company and its prospects.",
    "{co} said it would spin off its {unit} business into a separately listed company, a move that activist investor {activist} had pushed for.",
    "The merger of {co} and {co2} would create the {rank}-largest company of its kind in {region_m}, with combined annual sales of about {money_bn}.",
    "{co2} was advised by {bank} on the sale, while {bank2} served as financial adviser to {co}.",
    "The acquisition of {co2} by {co} is expected to close in the {half} of {year_future}, subject to shareholder and regulatory approvals.",
    "{co} expects the acquisition to generate annual cost savings of {money_m} within three years and to boost earnings per share in the first full year.",
    "Merger arbitrage funds have piled into {co2}, betting that its sale to {co} will clear regulatory hurdles despite political opposition.",
    "Global M&A volumes rose {pct_m} in {qtr} to {money_tn}, driven by a revival in large deals in technology and energy, according to Dealogic.",
    "{co} walked away from its planned purchase of {co2} after failing to win approval from {reg_body}, and will pay a breakup fee of {money_m}.",
    "{activist} has built a stake in {co} and is pushing the {co.sector} to explore a sale of the entire company, according to a letter sent to the board.",
    "{co} raised its offer for {co2} to {share_px} a share after a rival bidder emerged, setting the stage for a bidding war{mna_tail}.",
    "Under the terms of the all-stock deal, shareholders in {co2} will receive {ratio} shares of {co} for each share they own.",
    "Private equity firms are sitting on about {money_tn} of unspent capital, and bankers at {bank} expect that money to fuel a pickup in buyouts.",
    "{co} completed its acquisition of {co2} on {weekday}, {months_after} months after the deal was announced, and said it would delist the target's shares.",
    "The European Commission cleared the takeover of {co2} by {co} on condition that the buyer sells overlapping businesses in {eu_country} and {eu_country2}.",
    "{pe} agreed to sell {co} to {co2} for {money_bn}, roughly {mult} what the buyout firm paid for the business in {year_past}.",
    "Talks between {co} and {co2} over a merger of equals have stalled over who would run the combined company{mna_tail}.",
    "Investors in {co2} voted overwhelmingly in favor of the takeover by {co}, with {approval} of votes cast supporting the deal at a special meeting.",
    "{co} is exploring strategic alternatives, including a possible sale, after receiving interest from several private equity firms, the company said on {weekday}.",
    "The offer from {co} values {co2} at about {mult_ebitda} times its expected earnings before interest, taxes, depreciation and amortization for {year}.",
    "{co} will fund the {funding.total} purchase of {co2} with cash on hand and about {funding.debt} of new debt, backed by a bridge loan from {bank}.",
    "Dealmaking in {region_m} has slowed as higher interest rates made financing more expensive, with the number of announced deals down {pct_m} this year.",
    # --- probe-only ---
    "{co} confirmed it had received a preliminary approach from {pe} but said there was no certainty that an offer would be made.",
    "{co2} agreed to sell its {unit} unit to {co} for {money_m}, as it seeks to simplify its portfolio and focus on its core markets.",
    "Shareholders of {co2} sued to block its sale to {co}, alleging that the board had failed to seek a higher price from other potential buyers.",
    "The combined company will be led by {co.short} chief executive {person}, while the chair of {co2} will become chair of the enlarged board.",
    "{co} offered {share_px} a share in cash and stock for {co2}, valuing the {co2.sector} at roughly {money_bn} including net debt.",
    "Britain's Competition and Markets Authority said it would refer the takeover of {co2} by {co} for an in-depth investigation unless the companies offered remedies.",
    "Bankers at {bank} said a recovery in initial public offerings would help private equity firms such as {pe} exit investments they have held for years.",
    "The takeover of {co2} by {co} collapsed after the two sides failed to agree on how to handle the target's {liability}.",
]

# ---------------------------------------------------------------------------
# General-domain lexicons
# ---------------------------------------------------------------------------

US_CITIES = ["Denver", "Phoenix", "Chicago", "Dallas", "Kansas City", "Minneapolis",
             "Atlanta", "Nashville", "Sacramento", "Portland", "Boise", "Omaha", "Tulsa",
             "St. Louis", "Charlotte", "Salt Lake City", "Albuquerque", "Richmond",
             "Milwaukee", "Boston", "Houston", "Raleigh", "Spokane", "Louisville"]
SOUTH_EU_CITIES = ["Seville", "Madrid", "Athens", "Rome", "Florence", "Lisbon", "Naples",
                   "Marseille", "Valencia", "Palermo", "Cordoba", "Bologna"]
EU_CITIES = ["Paris", "Berlin", "Vienna", "Prague", "Amsterdam", "Brussels", "Munich",
             "Warsaw", "Budapest", "Zurich", "Copenhagen", "Lyon", "Milan", "Dublin"]
UK_TOWNS = ["Cornwall", "Cumbria", "north Wales", "the Scottish Highlands", "Devon",
            "Northern Ireland", "the Yorkshire Dales", "Pembrokeshire"]

# Invented sports teams and people
SOCCER = ["Eastbrook United", "Real Valdera", "Sporting Lisbrook", "Harrowgate City",
          "FC Norden", "Atletico Solana", "Kingsford Rovers", "Dunmore Athletic",
          "Olympique Varenne", "Westmere Town", "Calderon CF", "Ashby Wanderers",
          "Inter Rovello", "Brockley Albion"]
BASKETBALL = ["Lakeshore Comets", "Bayview Stingers", "Capital City Foxes", "Granite Peaks",
              "Mesa Rattlers", "Harbor City Anchors", "Prairie Storm", "Delta Herons",
              "Northshore Lynx", "Silver Valley Miners"]
BASEBALL = ["River City Herons", "Desert Hawks", "Summit Bears", "Coastal Gulls",
            "Ironwood Lumberjacks", "Bay State Clippers", "Red Mesa Coyotes", "Capital Senators"]
FOOTBALL = ["Bayou Gators", "Northern Huskies", "Redwood Rangers", "Gulf Coast Marlins",
            "Steel Valley Forge", "High Plains Stallions", "Lakeside Admirals", "Motor City Pistons"]
STADIUMS = ["Kingsmead Park", "the Estadio Solana", "Riverside Stadium", "the Valdera Arena",
            "Harrow Lane", "the Norden Stadion", "Victoria Ground", "the Westmere Bowl"]


def chef(r):
    if r.random() < 0.5:
        return {"name": woman(r), "pron": "her", "subj": "she"}
    return {"name": man(r), "pron": "his", "subj": "he"}


def golf_round(r):
    under = r.randint(3, 8)
    return {"under": NUM_WORDS[under], "total": str(72 - under)}


def goals_apps(r):
    apps = r.randint(14, 34)
    return {"goals": str(r.randint(8, min(apps, 29))), "apps": str(apps)}


def losses_games(r):
    g = r.randint(6, 12)
    return {"l": NUM_WORDS[r.randint(max(4, g - 4), g - 1)], "g": NUM_WORDS[g]}


def marathon_time(r):
    return f"2:0{r.randint(3, 9)}:{r.randint(0, 59):02d}"


def time_10k(r):
    return f"26:{r.randint(40, 59)}.{r.randint(0, 99):02d}" if r.random() < 0.5 else \
        f"27:{r.randint(0, 30):02d}.{r.randint(0, 99):02d}"


SYMPHONIES = [("Mahler", "Fifth"), ("Mahler", "Ninth"), ("Mahler", "Second"),
              ("Brahms", "Fourth"), ("Brahms", "First"), ("Beethoven", "Seventh"),
              ("Beethoven", "Third"), ("Sibelius", "Fifth"), ("Shostakovich", "Tenth"),
              ("Bruckner", "Eighth"), ("Dvorak", "Eighth"), ("Tchaikovsky", "Sixth"),
              ("Schubert", "Ninth"), ("Nielsen", "Fourth")]

ARTISTS = ["Ilse Marten", "Tomas Avery", "Rosa Quintana", "Jun Okabe", "Helena Voss",
           "Marcus Adeyemi", "Clara Bellweather", "Anton Reyes", "Noor Hadid", "Eliot Strand",
           "Sunniva Dahl", "Dario Campos", "Beatrix Holm", "Kofi Asante", "Vera Lindholm",
           "Paul Okoro", "Mira Castell"]
BANDS = ["the Pale Orchards", "Northern Static", "Velvet Cartography", "the Glass Harbors",
         "Low Tide Parade", "Cinder & Lark", "the Midnight Ferries", "Paper Satellites",
         "Hollow Pines", "the Amber Lanterns", "Quiet Engines"]
FILMS = ["The Salt Year", "A Map of Small Rooms", "Harvest Moon Motel", "The Last Lighthouse",
         "Borrowed Summers", "Under the Iron Bridge", "The Quiet Season", "Night Ferry",
         "Winter in Alvarado", "The Orchard Keeper's Daughter", "Far From the Shoreline"]
NOVELS = ["The Weight of Rivers", "Letters from Harrow Street", "A House Made of Rain",
          "The Cartographer's Widow", "Small Hours", "The Glass Orchard", "North of Everything",
          "The Lantern Keepers", "What the Tide Left", "An Inventory of Birds",
          "The Summer of Paper Kites"]
GALLERIES = ["the Halden Gallery", "the Mercer Contemporary", "the Northlight Gallery",
             "the Ostrava Kunsthalle", "the Bellweather Foundation", "Gallery Lumen",
             "the Fenwick Art Space"]
MUSEUMS = ["the city's Museum of Modern Art", "the National Gallery", "the Fine Arts Museum",
           "the Harbourside Museum", "the Kunstmuseum", "the municipal art museum",
           "the Museum of Contemporary Art"]
ORCHESTRAS = ["the Halden Philharmonic", "the City Symphony Orchestra", "the Northern Sinfonia",
              "the Valdera Chamber Orchestra", "the Lakeshore Symphony", "the Royal Harbour Philharmonic"]
RESTAURANTS = ["Olive & Ember", "The Salt Cellar", "Casa Lumbre", "Bistro Margaux",
               "Little Fig", "Kettle & Crane", "Osteria Nonna Pia", "The Copper Pot",
               "Saffron Lane", "Marrow", "Tavola Verde", "Hearth & Hound", "Noodle Yard",
               "Juniper Table", "El Fogon Azul", "Sora Izakaya"]
FOOD_CITIES = ["Chicago", "Portland", "Austin", "Philadelphia", "Melbourne", "Toronto",
               "Lisbon", "Copenhagen", "Mexico City", "Seattle", "Manchester", "Montreal",
               "New Orleans", "Barcelona", "Denver"]
AIRLINES = ["Aurelia Air", "Northwind Airways", "Solara Airlines", "Meridia", "Pacifica Air",
            "Baltic Wings", "Caribe Sky", "Alpenjet"]
HUBS = ["London", "Frankfurt", "Chicago", "Toronto", "Dubai", "Singapore", "Madrid",
        "New York", "Amsterdam", "Atlanta"]
DESTS = ["Lisbon", "Kyoto", "Porto", "Dubrovnik", "Cartagena", "Hoi An", "Oaxaca",
         "Seville", "Edinburgh", "Tbilisi", "Valletta", "Ljubljana", "Bruges", "Krakow",
         "Chiang Mai", "Cusco", "Marrakech", "Tallinn"]
AIRPORTS = ["Heathrow", "Schiphol", "Frankfurt Airport", "Chicago O'Hare", "Newark Liberty",
            "Dublin Airport", "Toronto Pearson", "Madrid-Barajas"]

S.update({
    # ---------------- weather
    "uscity": US_CITIES,
    "seucity": SOUTH_EU_CITIES,
    "eucity": EU_CITIES,
    "uk_area": UK_TOWNS,
    "region_us": ["the Upper Midwest", "the Gulf Coast", "New England", "the Pacific Northwest",
                  "the southern Plains", "the Ohio Valley", "the Mid-Atlantic",
                  "the northern Rockies", "the Great Lakes region", "the Southeast"],
    "hot_f": integer(97, 114),
    "cold_f": lambda r: r.choice(["minus ", ""]) + str(r.randint(2, 15)) + " degrees",
    "hot_c": lambda r: f"{r.randint(40, 46)}.{r.randint(0, 9)} degrees Celsius",
    "snow_in": lambda r: r.choice(["6 to 10", "8 to 12", "10 to 14", "12 to 18", "4 to 8",
                                   "a foot or more", "up to 20"]) + " inches",
    "rain_in": lambda r: r.choice(["two", "three", "four", "five", "six"]) + " inches",
    "wind_mph": lambda r: f"{r.randrange(50, 85, 5)} mph",
    "storm_name": ["Tropical Storm Marisol", "Tropical Storm Dorian", "Tropical Storm Keona",
                   "Tropical Storm Lorenzo", "Tropical Storm Priya", "Tropical Storm Emilio",
                   "Tropical Storm Imelda", "Tropical Storm Rafael"],
    "hurricane": ["Hurricane Marisol", "Hurricane Lorenzo", "Hurricane Keona",
                  "Hurricane Emilio", "Hurricane Odalys", "Hurricane Tobias"],
    "cat": ["2", "3", "4"],
    "day2": next_day,
    "farm_region": ["western Kansas", "the Texas Panhandle", "central Nebraska",
                    "eastern Colorado", "the San Joaquin Valley", "southern Saskatchewan"],
    "highway": ["Interstate 5", "Interstate 80", "Interstate 95", "Interstate 70",
                "the New Jersey Turnpike", "Interstate 10"],
    "year_old": [str(y) for y in range(1947, 2004, 3)],
    "fire_region": ["Canada", "northern Quebec", "Alberta", "British Columbia"],
    "ice_in": ["a quarter inch", "half an inch", "three-quarters of an inch"],
    "country_w": ["India", "Bangladesh", "Nepal", "the Philippines", "Sri Lanka", "Vietnam"],
    "rank_w": ["second", "third", "fourth", "fifth", "sixth"],
    "anom_f": lambda r: f"{r.randint(4, 9)} degrees",
    "mtn_region": ["the northern Rockies", "the Sierra Nevada", "western Montana",
                   "the Cascades", "central Idaho", "the Wasatch Mountains"],
    "torn_mph": lambda r: f"{r.randrange(110, 170, 5)} mph",
    "small_town": ["Haskell Creek, Oklahoma", "Marlow Springs, Kansas", "Cedar Bend, Iowa",
                   "Pruitt, Arkansas", "Willow Flats, Nebraska", "Dalton Ridge, Missouri",
                   "Hollins, Mississippi"],
    "ski_region": ["the Colorado Rockies", "the Sierra Nevada", "northern Vermont",
                   "the Wasatch Range", "the Alps", "the Canadian Rockies"],
    "coast": ["Jersey Shore", "South Carolina coast", "Outer Banks", "Massachusetts coast",
              "Texas coast", "Florida Panhandle"],
    "hail": ["golf balls", "ping-pong balls", "walnuts", "quarters", "hen's eggs"],
    "days_dry": integer(38, 74),
    "uk_storm": ["Storm Gideon", "Storm Maelle", "Storm Oriel", "Storm Bronagh",
                 "Storm Tavish", "Storm Ysolde"],
    "wind_uk": lambda r: f"{r.randrange(60, 95, 5)} mph",
    "season": ["spring", "summer", "autumn", "winter"],
    "tens": ["low 70s", "mid-60s", "upper 70s", "low 80s", "mid-50s", "upper 60s"],
    "drop_f": integer(25, 45),
    "speed_mph": lambda r: f"{r.randint(8, 18)} mph",
    "west_region": ["northern California", "eastern Oregon", "central Washington",
                    "the Nevada high desert", "southern Idaho"],
    "wx_tail": maybe(0.3, [", according to the National Weather Service",
                           ", forecasters said", ", local officials said"]),
    # ---------------- sports
    "soccer": SOCCER,
    "bball": BASKETBALL,
    "baseball": BASEBALL,
    "football": FOOTBALL,
    "stadium": STADIUMS,
    "player": man,
    "pwoman": woman,
    "soc": score(4, min_w=1),
    "soc2": score(4, min_w=2),
    "bb": bball_score,
    "base": score(9, min_w=2),
    "minute": lambda r: ordinal_suffix(r.randint(72, 90)),
    "deficit": integer(11, 22),
    "streak_n": integer(3, 7),
    "hours_t": ["four", "four and a half", "five"],
    "seed": ["top", "second", "third", "fourth", "fifth", "seventh"],
    "slam_city": ["Melbourne", "Paris", "New York", "London"],
    "k": integer(8, 12),
    "lg": losses_games,
    "contract_years": word_int(3, 5),
    "contract_m": lambda r: f"${r.randrange(120, 260, 5)} million",
    "runner_country": ["Kenya", "Ethiopia", "Uganda", "Eritrea", "Japan", "Morocco"],
    "mtime": marathon_time,
    "climb_km": integer(9, 21),
    "weeks_inj": word_int(3, 10),
    "pts": integer(31, 52),
    "threes": word_int(5, 10),
    "cricket_nation": ["England", "India", "Australia", "South Africa", "New Zealand",
                       "Pakistan", "Sri Lanka", "the West Indies"],
    "runs": integer(214, 338),
    "wkts": integer(3, 8),
    "unbeaten": integer(11, 24),
    "yards": integer(280, 410),
    "tds": word_int(2, 5),
    "mins": integer(52, 75),
    "games_lost": word_int(2, 5),
    "round_ord": ["second", "third", "fourth"],
    "golf": golf_round,
    "fine": ["$100,000", "$250,000", "$350,000", "$500,000"],
    "age": integer(19, 27),
    "age2": integer(24, 41),
    "ga": goals_apps,
    "soc_nation": ["Norway", "Portugal", "Colombia", "Japan", "Nigeria", "Canada", "Ireland",
                   "Iceland", "Chile", "Denmark"],
    "spectators": lambda r: f"{r.randrange(150, 600, 10):,},000",
    "career": integer(12, 19),
    "titles": word_int(2, 7),
    "caps": integer(60, 130, 5),
    "fee": integer(55, 120, 5),
    "pts_gap": word_int(3, 12),
    "games_left": word_int(5, 11),
    "turnovers": word_int(3, 6),
    "fg_pts": integer(3, 13),
    "putt_ft": integer(8, 35),
    "wins_n": word_int(5, 12),
    "secs": word_int(2, 9),
    "t10k": time_10k,
    "hr_ft": integer(455, 498),
    "sport_tail": maybe(0.25, [", the club said in a statement", ", according to local reports",
                               ", the team confirmed"]),
    # ---------------- science
    "inst": ["the University of Northmoor", "the Halden Institute of Technology",
             "the University of Edinburgh", "a university in Zurich", "Kyoto University",
             "the Max Planck Society", "the University of Cape Town", "ETH Zurich",
             "the University of Queensland", "the Marston Institute", "McGill University",
             "the University of Copenhagen", "Caltech"],
    "journal": ["Nature", "Science", "Cell", "The Lancet", "Nature Communications",
                "the Proceedings of the National Academy of Sciences", "Current Biology",
                "JAMA", "the New England Journal of Medicine", "Science Advances"],
    "scientist": person,
    "taxon": ["tree frog", "salamander", "orchid", "gecko", "hummingbird", "freshwater crab",
              "leaf-nosed bat", "dung beetle", "pit viper"],
    "bio_region": ["Ecuador", "Borneo", "Madagascar", "Papua New Guinea", "Peru",
                   "northern Vietnam", "Colombia", "Gabon"],
    "molecule": ["water vapor", "carbon dioxide", "methane", "sulfur dioxide", "carbon monoxide"],
    "ly": integer(30, 900, 10),
    "pct_sci": pct(14, 48, 0),
    "condition": ["type 2 diabetes", "heart disease", "dementia", "depression", "stroke",
                  "high blood pressure"],
    "years_f": integer(8, 25),
    "robot": ["soft, octopus-inspired", "insect-sized", "four-legged", "jellyfish-like",
              "snake-shaped", "two-armed"],
    "robot_ability": ["grip fragile objects such as ripe fruit without bruising them",
                      "climb stairs and open doors on its own",
                      "swim through narrow underwater pipes to inspect them for cracks",
                      "sort mixed recycling faster than a trained worker",
                      "walk over loose sand and rubble"],
    "n_samples": integer(90, 480),
    "site_region": ["the Balkans", "central Anatolia", "southern Iberia", "the Danube valley",
                    "the Russian steppe", "northern Scotland"],
    "ice_region": ["Antarctica", "Greenland", "East Antarctica", "the Antarctic interior"],
    "q_time": ["more than a second", "nearly two minutes", "about half a second",
               "almost an hour"],
    "fossil_region": ["Patagonia", "the Gobi Desert", "Montana", "northern Spain",
                      "the Isle of Wight", "Alberta", "Inner Mongolia"],
    "dino": ["small, feathered", "long-necked, plant-eating", "heavily armored",
             "crested, duck-billed", "fast-running, meat-eating"],
    "mya": integer(68, 190),
    "trial_n": integer(120, 2400, 10),
    "trial_n_small": integer(9, 44),
    "disease": ["malaria", "tuberculosis", "dengue fever", "respiratory syncytial virus",
                "Lyme disease", "norovirus"],
    "pct_sci2": pct(18, 41, 0),
    "n_animals": integer(24, 160),
    "marine": ["leatherback turtles", "blue sharks", "humpback whales", "manta rays",
               "bluefin tuna", "elephant seals"],
    "sci_coast": ["Costa Rica", "South Africa", "Western Australia", "Portugal",
                  "Baja California", "Mozambique"],
    "planet": ["Jupiter's moon Europa", "Saturn's moon Titan", "Mercury", "Jupiter's moon Ganymede",
               "the asteroid Psyche"],
    "n_images": lambda r: f"{r.randrange(40, 400, 10):,},000",
    "battery_mat": ["sodium and iron", "sulfur and aluminum", "zinc and manganese",
                    "wood-derived carbon", "abundant iron salts"],
    "pct_ret": pct(82, 97, 0),
    "cycles": integer(1000, 20000, 500),
    "n_lakes": integer(120, 900, 10),
    "lake_region": ["North America and Europe", "Scandinavia", "the northeastern United States",
                    "Canada", "central Europe"],
    "neurons": lambda r: f"{r.randrange(50, 140, 5)},000",
    "comet_yrs": integer(2500, 80000, 500),
    "pct_sci3": pct(61, 96, 0),
    "team_n": integer(40, 220),
    "mammal": ["mountain gorilla", "snow leopard", "Iberian lynx", "black rhino",
               "giant otter", "Ethiopian wolf"],
    "pop": integer(400, 4800, 50),
    "quakes": integer(200, 1400, 10),
    "genetic": ["sickle cell disease", "beta thalassemia"],
    "learn_trials": word_int(3, 12),
    "glacier": ["Thwaites", "Jakobshavn", "Rhone", "Pine Island", "Columbia", "Aletsch"],
    "ice_pct": pct(12, 38, 0),
    "months_sci": word_int(14, 20),
    "factor": ["fivefold", "tenfold", "threefold", "fourfold"],
    "n_children": integer(2500, 18000, 100),
    "sci_country": ["Taiwan", "Denmark", "South Korea", "Australia", "Ireland", "Singapore"],
    "chem_product": ["methanol", "ethylene", "formic acid", "carbon monoxide fuel"],
    "rover_n": lambda r: ordinal_suffix(r.randint(18, 31)),
    "insect": ["butterfly", "bumblebee", "moth", "beetle", "mayfly", "hoverfly"],
    "supplement": ["vitamin D", "fish oil", "vitamin C", "a multivitamin", "magnesium"],
    "outcome": ["the risk of fractures", "cognitive decline", "cold and flu symptoms",
                "blood pressure", "mood"],
    "gly": word_int(5, 9),
    "core_m": integer(2400, 2900, 50),
    "social_mammal": ["elephants", "marmosets", "bottlenose dolphins", "sperm whales",
                      "spotted hyenas"],
    "chile_site": ["the Chilean Andes", "Chile's Atacama Desert", "northern Chile"],
    "sci_tail": maybe(0.3, [", the researchers said", ", according to the study",
                            ", the authors wrote"]),
    # ---------------- food
    "restaurant": RESTAURANTS,
    "fcity": FOOD_CITIES,
    "chef": chef,
    "dish": ["braised short ribs", "miso-glazed black cod", "cacio e pepe", "lamb tagine",
             "duck confit", "charred octopus", "mushroom risotto", "pork belly bao",
             "smoked brisket", "saffron paella", "chicken mole", "crab linguine"],
    "side": ["crispy smashed potatoes", "a sharp fennel salad", "buttered flatbread",
             "pickled red onions", "grilled spring onions", "a bowl of jasmine rice"],
    "home_dish": ["French onion soup", "caramelized onion tart", "risotto", "beef stew",
                  "tomato sauce", "dal"],
    "slow_ing": ["onions", "shallots", "garlic", "tomato paste", "leeks"],
    "quick_dish": ["lemony chickpea pasta", "sheet-pan chicken with olives",
                   "garlicky shrimp with white beans", "spicy peanut noodles",
                   "tomato and egg stir-fry", "black bean tacos"],
    "mins_cook": ["20", "25", "30", "35"],
    "pantry": ["canned tomatoes", "capers", "anchovies", "dried chili flakes", "garlic",
               "chickpeas", "soy sauce", "smoked paprika", "frozen peas", "parmesan"],
    "cuisine": ["Georgian", "Sichuan", "Oaxacan", "Sri Lankan", "Lebanese", "Basque",
                "Filipino", "Ethiopian", "Peruvian", "Vietnamese", "Korean", "Sicilian"],
    "produce": ["peach", "strawberry", "melon", "plum", "cherry", "apricot", "tomato"],
    "price_menu": lambda r: f"${r.randrange(85, 265, 5)}",
    "courses": word_int(5, 12),
    "starter": ["a single oyster with green apple", "a warm gougere", "chilled pea soup",
                "a spoonful of trout roe on a potato crisp", "a tiny beet tartlet"],
    "dessert": ["a brown butter madeleine", "a sour cherry sorbet", "a chocolate tart with sea salt",
                "a bay leaf panna cotta", "honey ice cream with toasted oats"],
    "n_recipes": integer(60, 140),
    "hometown": ["Tbilisi", "Manila", "Beirut", "Lima", "Puebla", "Colombo", "Palermo",
                 "Addis Ababa", "Hue", "Busan"],
    "oven_temp": ["450", "475", "500"],
    "mins_short": ["15", "20", "30"],
    "dough": ["pizza dough", "cornbread batter", "dutch baby batter", "focaccia dough"],
    "pastry": ["almond croissants", "cardamom buns", "sourdough loaves", "canneles",
               "cinnamon rolls", "pain au chocolat"],
    "open_time": ["7 a.m.", "7:30 a.m.", "8 a.m.", "6:30 a.m."],
    "soup": ["pho", "ramen", "chicken soup", "pozole", "laksa", "beef noodle soup"],
    "price_cheap": lambda r: f"${r.randint(9, 16)}",
    "hours_cook": word_int(6, 18),
    "trend": ["small plates meant for sharing", "fermented vegetables and house-made pickles",
              "wood-fired cooking", "nonalcoholic cocktails", "fixed-price lunch menus",
              "vegetable-forward tasting menus"],
    "acid": ["red wine vinegar", "fresh lemon juice", "sherry vinegar", "lime juice"],
    "mustard": ["Dijon mustard", "whole-grain mustard", "honey", "miso"],
    "old_building": ["firehouse", "textile mill", "bank branch", "train depot", "print shop"],
    "praise_adj": ["glossy and deeply savory", "bright and balanced", "rich without being heavy",
                   "smoky and complex"],
    "holiday_food": [{"region": "Oaxaca", "dish": "mole negro", "occasion": "the Day of the Dead"},
                     {"region": "Sicily", "dish": "cassata", "occasion": "Easter"},
                     {"region": "southern Italy", "dish": "seven kinds of fish", "occasion": "Christmas Eve"},
                     {"region": "Catalonia", "dish": "grilled calcots", "occasion": "late-winter festivals"},
                     {"region": "northern Vietnam", "dish": "banh chung", "occasion": "Lunar New Year"},
                     {"region": "Georgia", "dish": "khachapuri", "occasion": "family celebrations"},
                     {"region": "Kerala", "dish": "a banana-leaf sadya", "occasion": "the harvest festival of Onam"},
                     {"region": "Provence", "dish": "the thirteen desserts", "occasion": "Christmas"}],
    "herb": ["cilantro", "parsley", "mint", "dill", "tarragon"],
    "days_fresh": word_int(7, 14),
    "stalls": integer(14, 40),
    "street_food": ["grilled skewers", "hand-pulled noodles", "fried chicken sandwiches",
                    "steamed dumplings", "tacos al pastor", "falafel wraps", "arepas",
                    "crispy pork buns", "paneer rolls"],
    "veg": ["cauliflower", "broccoli", "carrots", "Brussels sprouts", "cabbage", "squash"],
    "finish": ["a squeeze of lemon", "a spoonful of salsa verde", "a drizzle of chili crisp",
               "toasted hazelnuts and a splash of vinegar", "fresh herbs and yogurt"],
    "coffee_origin": ["Ethiopia", "Colombia", "Kenya", "Guatemala", "Rwanda", "Yemen"],
    "price_coffee": ["$6", "$7", "$8", "$9"],
    "chili_teams": integer(30, 90),
    "chili_ing": ["smoked ancho chilies and dark beer", "ground beef and cocoa powder",
                  "roasted Hatch chilies", "brisket trimmings and coffee",
                  "three kinds of dried chilies"],
    "fried_dish": ["fried rice", "kimchi fried rice", "nasi goreng", "arroz chaufa"],
    "fry_add": ["scallions", "a fried egg", "leftover roast pork", "frozen peas",
                "chopped kimchi", "diced ham"],
    "cake_layer": ["sponge", "almond cake", "chiffon", "brown butter cake", "pistachio cake"],
    "cake_fill": ["passion fruit curd", "whipped mascarpone", "roasted strawberries",
                  "salted caramel", "black sesame cream"],
    "staple": ["olive oil", "cocoa", "eggs", "coffee beans", "beef", "butter"],
    "wine": ["Albarino", "Chenin Blanc", "Gamay", "Riesling", "Nebbiolo", "rose"],
    "pairing": ["grilled fish", "roast chicken", "spicy noodle dishes", "a cheese board",
                "mushroom risotto", "pork chops"],
    "n_new": word_int(3, 7),
    "protein": ["chicken thighs", "mushrooms", "scallops", "beef", "tofu", "pork chops"],
    "local_ing": ["heirloom vegetables", "wild mushrooms", "line-caught fish",
                  "heritage grains", "foraged greens"],
    "miles": integer(20, 100, 5),
    "beans": ["chickpeas", "black beans", "cannellini beans", "pinto beans", "borlotti beans"],
    "aromatics": ["a bay leaf and a halved onion", "garlic and a sprig of sage",
                  "a strip of kombu", "onion, carrot and celery"],
    "park_place": ["public library", "courthouse", "university hospital", "old train station"],
    "sauce": ["green salsa", "chili oil", "garlic sauce", "hot sauce", "peanut sauce"],
    "late_ing": [{"ing": "salt", "tex": "tough"}, {"ing": "cream", "tex": "grainy"},
                 {"ing": "cheese", "tex": "stringy"}, {"ing": "butter", "tex": "greasy"}],
    "flavor": ["black sesame", "olive oil", "sweet corn", "miso caramel", "ube",
               "goat cheese and fig", "roasted rice", "sour cherry and basil"],
    "course_len": word_int(4, 10),
    "skill": ["French pastry", "knife skills", "bread baking", "fresh pasta",
              "regional Chinese cooking", "fermentation"],
    "class_n": word_int(8, 12),
    "bread": ["rye bread", "challah", "pita", "baguettes", "cornbread", "sourdough"],
    "gens": word_int(3, 5),
    "price_dinner": lambda r: f"${r.randrange(110, 260, 5)}",
    "food_tail": maybe(0.25, [", according to the owners", ", the chef said",
                              ", regulars say"]),
    # ---------------- travel
    "dest": DESTS,
    "airline": AIRLINES,
    "hub": HUBS,
    "rail": [{"a": "Vienna", "b": "Venice", "h": "11"}, {"a": "Paris", "b": "Nice", "h": "12"},
             {"a": "London", "b": "Inverness", "h": "11"}, {"a": "Stockholm", "b": "Narvik", "h": "18"},
             {"a": "Berlin", "b": "Zurich", "h": "12"}, {"a": "Brussels", "b": "Prague", "h": "14"},
             {"a": "Amsterdam", "b": "Innsbruck", "h": "13"}, {"a": "Milan", "b": "Palermo", "h": "19"}],
    "sleeper_extra": ["", " and breakfast is served in the cabin",
                      " and the scenery at dawn is spectacular"],
    "trail": ["West Highland Way", "Camino Portugues", "Tour du Mont Blanc", "Kungsleden",
              "Lycian Way", "Pacific Crest Trail", "Dolomites Alta Via 1"],
    "water_l": word_int(2, 4),
    "dist_km": integer(12, 28),
    "village": ["a hillside village above Lake Como", "a fishing village on Crete",
                "the Cotswolds", "a quiet corner of the Douro Valley",
                "a mountain village in Slovenia", "a whitewashed village in Andalusia"],
    "rooms": integer(6, 14),
    "view": ["harbor", "olive groves", "lake", "vineyards", "valley", "old town rooftops"],
    "country_t": ["Japan", "Portugal", "Vietnam", "Morocco", "Iceland", "New Zealand",
                  "Costa Rica", "Greece", "Croatia", "Peru"],
    "weeks_pass": word_int(6, 12),
    "fee_eur": ["5 euros", "10 euros", "3 euros", "8 euros"],
    "pass_days": ["three", "five", "seven", "four"],
    "shoulder_month": ["late September", "early October", "May", "early June", "late April"],
    "ferry": [{"a": "Split", "b": "Hvar", "t": "an hour"}, {"a": "Piraeus", "b": "Naxos", "t": "five hours"},
              {"a": "Oban", "b": "Mull", "t": "45 minutes"}, {"a": "Helsinki", "b": "Tallinn", "t": "two hours"},
              {"a": "Naples", "b": "Capri", "t": "50 minutes"}, {"a": "Bergen", "b": "Flam", "t": "five and a half hours"}],
    "attraction": ["covered market", "botanical garden", "old Jewish quarter", "hilltop fortress",
                   "maritime museum", "tiled monastery"],
    "n_flights": integer(300, 1500, 10),
    "hsr": [{"a": "Madrid", "b": "Granada", "h": "three"}, {"a": "Milan", "b": "Naples", "h": "five"},
            {"a": "Hanoi", "b": "Da Nang", "h": "six"}, {"a": "Lisbon", "b": "Porto", "h": "two"},
            {"a": "Paris", "b": "Bordeaux", "h": "three"}, {"a": "Beijing", "b": "Shanghai", "h": "five"}],
    "park": ["Yosemite", "Glacier National Park", "Zion", "Banff", "Grand Teton", "Olympic National Park"],
    "exclusion": ["a hurricane that had already been named", "a pre-existing medical condition",
                  "a strike that was announced before you bought the policy",
                  "a change of plans"],
    "hotel": ["Hotel Almadraba", "the Linden House", "Casa do Rio", "the Grand Veranda",
              "the Saltmarsh Inn", "Hotel Meridiana"],
    "hotel_building": ["monastery", "tobacco warehouse", "19th-century post office",
                       "wine cellar", "school"],
    "port": ["Dubrovnik", "Santorini", "Bergen", "Juneau", "Kotor", "Venice"],
    "warm_c": ["25 degrees Celsius", "28 degrees Celsius", "22 degrees Celsius",
               "30 degrees Celsius"],
    "road": ["Iceland's Ring Road", "the Garden Route in South Africa", "the Great Ocean Road",
             "the Carretera Austral", "Scotland's North Coast 500", "the Amalfi Coast road"],
    "road_km": integer(250, 1300, 10),
    "road_feature": ["lava fields and fishing villages", "forests and quiet beaches",
                     "steep cliffs and sheltered coves", "glaciers and fjords",
                     "sheep farms and ruined castles"],
    "visitors": lambda r: f"{r.randint(4, 31)} million",
    "airport": AIRPORTS,
    "temple": ["the temples of Angkor", "Kyoto's Kiyomizu-dera", "the Blue Mosque",
               "Bangkok's Grand Palace", "the monasteries of Mount Athos"],
    "fjord_town": ["Flam", "Geiranger", "Balestrand", "Alesund", "Undredal"],
    "n_countries": word_int(3, 5),
    "street_city": [{"city": "Penang", "dish": "char kway teow"},
                    {"city": "Bangkok", "dish": "pad kra pao"},
                    {"city": "Mexico City", "dish": "tacos de canasta"},
                    {"city": "Istanbul", "dish": "grilled mackerel sandwiches"},
                    {"city": "Hanoi", "dish": "bun cha"},
                    {"city": "Marrakech", "dish": "snail soup"},
                    {"city": "Taipei", "dish": "oyster omelet"}],
    "cheap_usd": ["$3", "$4", "$5"],
    "hut_beds": integer(24, 80),
    "train_mins": ["15", "20", "30"],
    "tour_h": ["two hours", "three hours", "an hour and a half", "half a day"],
    "reef_place": ["the Gili Islands", "Belize's barrier reef", "the Red Sea resorts",
                   "Ningaloo Reef", "the Bay Islands of Honduras"],
    "visa_days": ["30", "60", "90"],
    "books_n": lambda r: f"{r.randrange(2000, 9000, 500):,}",
    "travel_tail": maybe(0.25, [", tourism officials said", ", according to local guides",
                                ", seasoned travelers say"]),
    # ---------------- arts
    "artist": ARTISTS,
    "band": BANDS,
    "film": FILMS,
    "novel": NOVELS,
    "gallery": GALLERIES,
    "museum": MUSEUMS,
    "orchestra": ORCHESTRAS,
    "director": person,
    "author": person,
    "author_f": woman,
    "n_works": integer(80, 220, 5),
    "film_fest": ["Cannes", "the Venice Film Festival", "Sundance", "the Berlin Film Festival",
                  "the Toronto International Film Festival"],
    "ovation": word_int(5, 12),
    "novel_desc": ["sprawling family saga", "slim, unsettling debut",
                   "darkly funny campus novel", "quiet, carefully observed novel",
                   "ambitious historical novel"],
    "novel_topic": ["three sisters running a failing hotel", "a lighthouse keeper's last winter",
                    "a village divided by a new dam", "a translator who inherits a stranger's diaries",
                    "two brothers reunited after decades apart"],
    "prize": ["Booker Prize", "Women's Prize for Fiction", "National Book Award",
              "Costa first novel award", "International Dublin Literary Award"],
    "sym": [{"composer": c, "n": n} for c, n in SYMPHONIES],
    "medium": ["oil paintings", "charcoal drawings", "woven tapestries", "abstract canvases",
               "ceramic sculptures"],
    "art_theme": ["the industrial landscape", "domestic life", "migration and memory",
                  "the human body", "coastal light", "urban solitude"],
    "resale": lambda r: f"${r.randrange(400, 1500, 50):,}",
    "sculpt_h": integer(4, 12),
    "square": ["the main square", "a riverside park", "the town's harbor",
               "a plaza near the cathedral"],
    "poem_topic": ["grief and gardening", "her grandmother's kitchen", "motherhood",
                   "the sea", "working night shifts", "a childhood spent moving between cities"],
    "acquisition": ["illuminated manuscript", "set of Dutch still lifes", "Renaissance bronze",
                    "early photograph album", "medieval tapestry"],
    "wing": ["east wing", "decorative arts galleries", "print room", "Renaissance galleries"],
    "play": ["Hamlet", "Macbeth", "King Lear", "Othello", "Romeo and Juliet", "Julius Caesar"],
    "setting": ["a 1970s oil town", "a modern corporate boardroom", "a crumbling seaside hotel",
                "a military compound", "a present-day housing estate"],
    "album_ord": word_ord(2, 6),
    "n_acts": integer(80, 200, 5),
    "n_stages": word_int(4, 9),
    "mural_m": integer(40, 180, 5),
    "doc_subject": ["a family of beekeepers in rural Portugal",
                    "a small-town newspaper in its final year",
                    "three generations of fishermen on a Norwegian island",
                    "a youth orchestra in a refugee camp",
                    "a retired boxer running a gym for teenagers"],
    "doc_years": word_int(3, 9),
    "memoir_topic": ["growing up above her parents' restaurant",
                     "decades as a war correspondent",
                     "his years as a touring jazz musician",
                     "caring for a parent with dementia",
                     "leaving a small farming town for the city"],
    "perf_genre": ["chamber music", "touring plays", "operetta", "contemporary dance",
                   "jazz and cabaret"],
    "auction_px": lambda r: f"${r.uniform(2.1, 38):.1f} million",
    "bidders": ["two telephone bidders", "collectors in Hong Kong and New York",
                "a museum and a private collector", "three bidders in the room"],
    "n_countries_a": integer(18, 60),
    "movement": ["Surrealist", "Impressionist", "Bauhaus", "Cubist", "Pop", "Expressionist"],
    "art_context": ["the rise of photography", "the upheaval of the First World War",
                    "the growth of industrial cities", "new ideas about color and light"],
    "film_theme": ["grief", "aging parents", "small-town loneliness", "memory", "forgiveness"],
    "choir_n": integer(40, 90),
    "age_lo": word_int(9, 16),
    "age_hi": ["70", "78", "82", "85"],
    "choral": ["Renaissance motets", "Bach cantatas", "folk songs from the Baltic states",
               "contemporary choral works", "Russian Orthodox chant"],
    "pct_art": pct(200, 900, 0),
    "install": ["thousands of suspended glass beads", "a forest of hanging paper lanterns",
                "shifting projections of ocean waves", "a maze of translucent fabric",
                "hundreds of tiny speakers playing birdsong"],
    "anniv": ["50th", "75th", "100th", "60th", "90th"],
    "novel_place": ["postwar Naples", "rural Ireland", "1980s Lagos", "a Norwegian fishing town",
                    "the Mississippi Delta", "Soviet-era Tbilisi"],
    "ballet": ["Swan Lake", "Giselle", "The Nutcracker", "Romeo and Juliet", "Coppelia",
               "The Sleeping Beauty"],
    "ballet_co": ["The city ballet company", "The national ballet", "A touring Dutch company",
                  "The Halden Ballet"],
    "jazz_city": ["New Orleans", "Chicago", "Copenhagen", "Tokyo", "Paris", "London"],
    "musician": person,
    "residency": word_int(4, 12),
    "archive_city": ["a Vienna", "a Leipzig", "a Prague", "a Bologna", "a Salzburg"],
    "photo_subject": ["life in a mining town during the 1970s",
                      "the last days of the city's shipyards",
                      "rural weddings across the Balkans",
                      "the night shift at a busy hospital",
                      "protest movements of the 1960s"],
    "conductor": person,
    "opera": ["Tosca", "Carmen", "Madama Butterfly", "Lucia di Lammermoor", "Norma", "Rusalka"],
    "singer": woman,
    "judge_praise": ["a formally daring and deeply humane book",
                     "a masterpiece of compression and restraint",
                     "funny, furious and impossible to put down",
                     "a novel of rare tenderness and ambition"],
    "arts_tail": maybe(0.25, [", organizers said", ", according to the museum",
                              ", critics noted"]),
})
