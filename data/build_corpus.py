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

Template syntax: ``{slot}`` draws a value from ``S[slot]`` (a list or a
``callable(rng)``); ``{slot.field}`` reads a field of a record-valued slot;
``{slot2}`` is a second, *different* draw from the same slot; the same key
repeated in one template reuses its value.  ``[a|b|c]`` picks one alternative
(an empty alternative is allowed) and ``a(n)`` becomes "a" or "an" depending on
the following word.  Sentences outside 10-40 words, and duplicates (exact or
after lowercasing / punctuation stripping) across both files, are re-drawn.

Usage::

    python data/build_corpus.py            # seed 0, writes data/*.jsonl
    python data/build_corpus.py --seed 1 --out-dir build/corpus
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
N_PROBE_TEMPLATES = 9  # last 9 templates of every category -> probe only
MIN_CORPUS_TEMPLATES = 25
MIN_WORDS, MAX_WORDS = 10, 40

# ---------------------------------------------------------------------------
# Small value generators
# ---------------------------------------------------------------------------

NUM_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]
ORDINAL_WORDS = [
    "zeroth",
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
]


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
    elif unit == "billion" and v < 1:
        v, unit, dp = v * 1000, "million", 0
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

FIRST = [
    "Maria",
    "James",
    "Aisha",
    "Daniel",
    "Mei",
    "Thomas",
    "Priya",
    "Lukas",
    "Sofia",
    "Kwame",
    "Elena",
    "Rafael",
    "Hannah",
    "Kenji",
    "Fatima",
    "Oliver",
    "Ingrid",
    "Samuel",
    "Leila",
    "Marcus",
    "Chloe",
    "Tomasz",
    "Amara",
    "Henrik",
    "Julia",
    "Ravi",
    "Camille",
    "Diego",
    "Nadia",
    "Patrick",
    "Yuki",
    "Gabriel",
    "Sara",
    "Andrew",
    "Ines",
    "Victor",
    "Helen",
    "Omar",
    "Rebecca",
    "Stefan",
    "Lucia",
    "Nathan",
    "Anika",
    "Felix",
    "Grace",
    "Mateo",
    "Zara",
    "Peter",
    "Claire",
    "Jonas",
]
LAST = [
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Tanaka",
    "Brennan",
    "Castellano",
    "Whitfield",
    "Ashworth",
    "Novak",
    "Hargrove",
    "Delacroix",
    "Mensah",
    "Iyer",
    "Falkner",
    "Ruiz",
    "Petrov",
    "Calloway",
    "Haddad",
    "Sorensen",
    "Kimura",
    "Fitzgerald",
    "Varga",
    "Osei",
    "Marchetti",
    "Blackwood",
    "Chen",
    "Albrecht",
    "Duarte",
    "Rowntree",
    "Nakamura",
    "Keller",
    "Abernathy",
    "Sato",
    "Lindgren",
    "Costa",
    "Whitaker",
    "Mbeki",
    "Holloway",
    "Jansen",
    "Quintero",
    "Dunmore",
    "Ferreira",
    "Walsh",
    "Bergstrom",
    "Okonkwo",
    "Pereira",
    "Stratton",
    "Greer",
    "Hayashi",
    "Vance",
]
MALE_FIRST = [
    "James",
    "Daniel",
    "Thomas",
    "Lukas",
    "Kwame",
    "Rafael",
    "Kenji",
    "Oliver",
    "Samuel",
    "Marcus",
    "Tomasz",
    "Henrik",
    "Ravi",
    "Diego",
    "Patrick",
    "Gabriel",
    "Andrew",
    "Victor",
    "Omar",
    "Stefan",
    "Nathan",
    "Felix",
    "Mateo",
    "Peter",
    "Jonas",
    "Luca",
    "Emeka",
    "Joao",
    "Mikel",
    "Anders",
    "Kai",
    "Bruno",
]
FEMALE_FIRST = [
    "Maria",
    "Aisha",
    "Mei",
    "Priya",
    "Sofia",
    "Elena",
    "Hannah",
    "Fatima",
    "Ingrid",
    "Leila",
    "Chloe",
    "Amara",
    "Julia",
    "Camille",
    "Nadia",
    "Yuki",
    "Sara",
    "Ines",
    "Helen",
    "Rebecca",
    "Lucia",
    "Anika",
    "Grace",
    "Zara",
    "Claire",
    "Marta",
    "Noor",
    "Astrid",
    "Elif",
    "Naomi",
]


def person(r):
    return f"{r.choice(FIRST)} {r.choice(LAST)}"


def man(r):
    return f"{r.choice(MALE_FIRST)} {r.choice(LAST)}"


def woman(r):
    return f"{r.choice(FEMALE_FIRST)} {r.choice(LAST)}"


WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
ALLDAYS = WEEKDAYS + ["Saturday", "Sunday"]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


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
    ("Castlegate Stores", "Castlegate", "CSTG", "discount retailer", "discount retailers", "retail"),
    ("Maywood Markets", "Maywood", "MYWD", "supermarket chain", "supermarket chains", "retail"),
]
STORE_CHAINS = {"Pinecrest Retail Group", "Harlow & Finch", "Castlegate Stores", "Maywood Markets"}
COMPANIES = [dict(name=n, short=s, ticker=t, sector=sec, plural=pl, kind=k) for n, s, t, sec, pl, k in _CO]
UNITS_BY_KIND = {
    "tech": [
        "consumer hardware",
        "legacy hardware",
        "IT services",
        "satellite services",
        "enterprise security",
        "printer",
    ],
    "industrial": [
        "industrial coatings",
        "North American trucking",
        "rail equipment",
        "specialty chemicals",
        "aftermarket parts",
        "building products",
    ],
    "retail": ["frozen foods", "European retail", "home appliances", "pet food", "snack foods", "outlet store"],
    "health": ["animal health", "consumer health", "diagnostics", "generic drugs", "contract manufacturing"],
    "energy": ["refining", "pipeline", "offshore drilling", "coal", "fuel retail"],
    "other": [
        "print advertising",
        "consumer lending",
        "reinsurance",
        "events",
        "European hotels",
        "specialty insurance",
    ],
}


UNITS_BY_NAME = {  # overrides where the broad sector list would read oddly
    "Castellan Airlines": ["cargo", "regional airline", "aircraft maintenance", "holiday tour"],
    "Marisco Shipping": ["port terminal", "freight forwarding", "tanker", "ship leasing"],
    "Meridian Freight Lines": ["freight brokerage", "warehousing", "last-mile delivery"],
    "Tidewell Logistics": ["freight brokerage", "warehousing", "customs brokerage"],
    "Sablewood Homes": ["mortgage lending", "title insurance", "apartment rental"],
    "Vantrell Motors": ["motorcycle", "auto parts", "car rental", "auto financing"],
    "Hollis Aerospace": ["defense electronics", "aircraft seating", "aftermarket parts"],
    "Wexcombe Steel": ["scrap metal recycling", "steel pipe", "iron ore"],
    "Pellham Packaging": ["paper mill", "plastic packaging", "glass bottle"],
    "Brightwater Utilities": ["gas distribution", "renewable power", "water services"],
    "Bexley Property Trust": ["office property", "shopping mall", "student housing"],
    "Drummond Petroleum": ["refining", "pipeline", "fuel retail"],
    "Solvika Renewables": ["wind power", "battery storage", "rooftop solar"],
}


def _unit(c, r):
    return r.choice(UNITS_BY_NAME.get(c["name"]) or UNITS_BY_KIND[c["kind"]])


def company(pool):
    """A company record plus a sector-appropriate business unit."""

    def gen(r):
        c = dict(r.choice(pool))
        c["unit"] = _unit(c, r)
        return c

    return gen


def deal(r):
    """Acquirer (a_*) and target (t_*); usually from the same broad sector."""
    a = r.choice(COMPANIES)
    same = r.random() < 0.85
    t = r.choice([c for c in COMPANIES if c is not a and (c["kind"] == a["kind"] or not same)])
    d = {"name": a["name"] + "|" + t["name"]}
    for pre, c in (("a", a), ("t", t)):
        d[pre] = c["name"]
        d[pre + "_short"] = c["short"]
        d[pre + "_sector"] = c["sector"]
        d[pre + "_plural"] = c["plural"]
        d[pre + "_unit"] = _unit(c, r)
    return d


_BANKS = [
    ("Harwick & Lowe", "Harwick & Lowe"),
    ("First Cascadia Bank", "First Cascadia"),
    ("Stanmore Bancorp", "Stanmore"),
    ("Northgate Trust", "Northgate"),
    ("Bellcourt Capital", "Bellcourt"),
    ("Ridgeview Financial", "Ridgeview"),
    ("Alder National Bank", "Alder National"),
    ("Carrow Bank", "Carrow"),
    ("Whitmore Savings Bank", "Whitmore"),
    ("Langford Securities", "Langford"),
    ("Cordell Brothers", "Cordell"),
    ("Banque Marchetti", "Marchetti"),
    ("Tavistock Bank", "Tavistock"),
    ("Emberly Bancshares", "Emberly"),
    ("Granton Commercial Bank", "Granton"),
    ("Osterfeld Bank", "Osterfeld"),
]
BANKS = [dict(name=n, short=s) for n, s in _BANKS]

PE_FIRMS = [
    "Blackmere Capital",
    "Stonegate Partners",
    "Halcyon Equity",
    "Ardent Rock Capital",
    "Longmere Partners",
    "Castlebrook Capital",
    "Redfern Equity Partners",
    "Silverstrand Capital",
    "Oakhurst Partners",
    "Keel Harbor Capital",
]
ACTIVISTS = [
    "Greywolf Capital",
    "Tarrant Street Partners",
    "Ironvale Advisors",
    "Maple Point Capital",
    "Corbel Activist Fund",
    "Northlight Investors",
]

_CB = [
    # tname, short, currency, area adj, area "in ...", head
    ("the Federal Reserve", "Fed", "dollar", "U.S.", "in the United States", "the Fed chair"),
    ("the European Central Bank", "ECB", "euro", "euro zone", "in the euro zone", "the ECB president"),
    ("the Bank of England", "BoE", "pound", "British", "in Britain", "the Bank of England governor"),
    ("the Bank of Japan", "BoJ", "yen", "Japanese", "in Japan", "the BoJ governor"),
    ("the Bank of Canada", "Bank of Canada", "Canadian dollar", "Canadian", "in Canada", "the Bank of Canada governor"),
    ("the Reserve Bank of Australia", "RBA", "Australian dollar", "Australian", "in Australia", "the RBA governor"),
    ("the Swiss National Bank", "SNB", "Swiss franc", "Swiss", "in Switzerland", "the SNB chairman"),
    ("Sweden's Riksbank", "Riksbank", "Swedish crown", "Swedish", "in Sweden", "the Riksbank governor"),
    ("Norway's central bank", "Norges Bank", "Norwegian crown", "Norwegian", "in Norway", "the Norges Bank governor"),
    (
        "the Reserve Bank of New Zealand",
        "RBNZ",
        "New Zealand dollar",
        "New Zealand",
        "in New Zealand",
        "the RBNZ governor",
    ),
]
CENTRAL_BANKS = [dict(tname=t, short=s, cur=c, area=a, area_in=i, head=h) for t, s, c, a, i, h in _CB]
# plausible policy-rate ranges (percent, step 0.25) and published vote splits
_CB_RATES = {
    "Fed": (3.5, 5.5),
    "ECB": (2.0, 4.0),
    "BoE": (3.75, 5.25),
    "BoJ": (0.0, 0.75),
    "Bank of Canada": (2.25, 5.0),
    "RBA": (3.35, 4.35),
    "SNB": (0.0, 1.75),
    "Riksbank": (1.75, 4.0),
    "Norges Bank": (3.75, 4.5),
    "RBNZ": (3.0, 5.5),
}
_CB_VOTES = {"Fed": ["10-2", "9-3"], "BoE": ["7-2", "6-3", "5-4"], "BoJ": ["7-2", "6-3"]}
_CB_THE = {
    "Fed": "the Fed",
    "ECB": "the ECB",
    "BoE": "the BoE",
    "BoJ": "the BoJ",
    "Bank of Canada": "the Bank of Canada",
    "RBA": "the RBA",
    "SNB": "the SNB",
    "Riksbank": "the Riksbank",
    "Norges Bank": "Norges Bank",
    "RBNZ": "the RBNZ",
}


def central_bank(pool):
    def gen(r):
        cb = dict(r.choice(pool))
        lo, hi = _CB_RATES[cb["short"]]
        steps = int(round((hi - lo) / 0.25))
        cb["rate"] = f"{lo + 0.25 * r.randint(0, steps):.2f}%"
        cb["vote"] = r.choice(_CB_VOTES.get(cb["short"], [""]))
        cb["the_short"] = _CB_THE[cb["short"]]
        return cb

    return gen


CB_NON_US = [cb for cb in CENTRAL_BANKS if cb["short"] != "Fed"]
CB_VOTING = [cb for cb in CENTRAL_BANKS if cb["short"] in _CB_VOTES]
CB_HIKERS = [cb for cb in CENTRAL_BANKS if cb["short"] not in ("BoJ", "SNB")]

COUNTRIES = [
    "Germany",
    "France",
    "Italy",
    "Spain",
    "Britain",
    "Japan",
    "Canada",
    "Australia",
    "South Korea",
    "the Netherlands",
    "Sweden",
    "Poland",
    "Mexico",
    "Brazil",
    "India",
    "Indonesia",
]
COUNTRY_ADJ = [
    "German",
    "French",
    "Italian",
    "Spanish",
    "British",
    "Japanese",
    "Canadian",
    "Australian",
    "Dutch",
    "Swedish",
    "Polish",
]
EU_COUNTRIES = [
    "Germany",
    "France",
    "Italy",
    "Spain",
    "the Netherlands",
    "Belgium",
    "Austria",
    "Portugal",
    "Ireland",
    "Finland",
]
EM_COUNTRIES = [
    "Turkey",
    "Egypt",
    "Argentina",
    "Pakistan",
    "Nigeria",
    "Kenya",
    "Ghana",
    "Sri Lanka",
    "Colombia",
    "South Africa",
]
US_STATES = [
    "Texas",
    "Ohio",
    "Delaware",
    "California",
    "Illinois",
    "Pennsylvania",
    "Georgia",
    "Michigan",
    "Florida",
    "New Jersey",
    "Arizona",
    "North Carolina",
]

US_INDEXES = [
    "the S&P 500",
    "the Nasdaq Composite",
    "the Dow Jones Industrial Average",
    "the Russell 2000",
    "the S&P 500",
]
INTL_INDEXES = [
    "the pan-European Stoxx 600",
    "Britain's FTSE 100",
    "Germany's DAX",
    "France's CAC 40",
    "Italy's FTSE MIB",
    "Spain's IBEX 35",
]

FIN_SECTOR_GROUPS = [
    "technology shares",
    "bank stocks",
    "energy companies",
    "healthcare stocks",
    "consumer discretionary names",
    "industrials",
    "semiconductor stocks",
    "utilities and real estate shares",
    "small-cap stocks",
    "airline and cruise operators",
]
MKT_POS = [
    "hopes that the Fed will cut rates before the end of the year",
    "a softer-than-expected inflation reading",
    "strong quarterly results from several large technology companies",
    "signs that the labor market is cooling without collapsing",
    "a drop in Treasury yields",
    "progress in trade talks between Washington and Beijing",
    "upbeat comments from Fed officials about the inflation outlook",
    "better-than-expected retail sales figures",
]
MKT_NEG = [
    "hotter-than-expected inflation data from the United States",
    "a profit warning from one of the region's largest industrial companies",
    "renewed trade tensions between the United States and China",
    "a sharp rise in government bond yields",
    "weak factory data from Germany and France",
    "hawkish comments from central bank officials",
    "disappointing guidance from several chipmakers",
    "fresh worries about the health of regional lenders",
]

EARN_DRIVERS = [
    "stronger pricing in North America",
    "a rebound in travel demand",
    "lower freight and packaging costs",
    "cost cuts announced last year",
    "robust subscription growth",
    "a favorable currency effect",
    "higher volumes at its industrial unit",
    "brisk demand for its premium products",
    "a recovery in orders from China",
    "tight control of overhead costs",
]
EARN_DRAGS = [
    "higher wage costs squeezed margins",
    "a stronger dollar weighed on overseas sales",
    "inventory write-downs hit results",
    "demand from Chinese customers slowed",
    "restructuring charges ate into profit",
    "heavy discounting hurt margins",
    "higher interest costs offset modest sales growth",
    "a supply disruption forced it to idle a key plant",
]
EARN_DRAG_NOUNS = [
    "soft demand in China",
    "a costly strike at its main plant",
    "higher raw material prices",
    "weaker consumer spending in Europe",
    "the loss of a major customer",
    "unfavorable exchange rates",
    "delays in shipping new products",
]
CEO_QUOTES = [
    "the second half of the year would be stronger than the first",
    "pricing would remain disciplined despite softer demand",
    "the company had no plans to cut its dividend",
    "order backlogs were at a record high",
    "customers were still delaying large purchases",
    "the worst of the inventory correction was behind it",
    "the company would keep investing through the downturn",
    "demand had improved in each month of the quarter",
]
BIZ_UNITS = [
    "European retail",
    "consumer lending",
    "legacy hardware",
    "specialty chemicals",
    "North American trucking",
    "home appliances",
    "print advertising",
    "animal health",
    "industrial coatings",
    "satellite services",
    "frozen foods",
]

QUARTERS = ["first", "second", "third", "fourth"]


def rating_pair(r):
    """An agency and two adjacent rating notches: {"agency", "hi", "lo"}."""
    scales = {
        "Moody's": [
            "Aa2",
            "Aa3",
            "A1",
            "A2",
            "A3",
            "Baa1",
            "Baa2",
            "Baa3",
            "Ba1",
            "Ba2",
            "Ba3",
            "B1",
            "B2",
            "B3",
            "Caa1",
        ],
        "S&P Global Ratings": [
            "AA",
            "AA-",
            "A+",
            "A",
            "A-",
            "BBB+",
            "BBB",
            "BBB-",
            "BB+",
            "BB",
            "BB-",
            "B+",
            "B",
            "B-",
            "CCC+",
        ],
        "Fitch Ratings": [
            "AA",
            "AA-",
            "A+",
            "A",
            "A-",
            "BBB+",
            "BBB",
            "BBB-",
            "BB+",
            "BB",
            "BB-",
            "B+",
            "B",
            "B-",
            "CCC+",
        ],
    }
    agency = r.choice(sorted(scales))
    sc = scales[agency]
    i = r.randrange(2, len(sc) - 1)
    return {"agency": agency, "hi": sc[i], "lo": sc[i + 1]}


def deal_funding(r):
    total = r.uniform(2.0, 30.0)
    debt = total * r.uniform(0.25, 0.7)
    return {"total": _fmt_money(total, "billion", "$", 1), "debt": _fmt_money(debt, "billion", "$", 1)}


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


S: dict = {}  # slot name -> list of strings/records, or callable(rng)

S.update(
    {
        # entities
        "co": company(COMPANIES),
        "retailer": company([c for c in COMPANIES if c["name"] in STORE_CHAINS]),
        "techco": company([c for c in COMPANIES if c["kind"] == "tech"]),
        "deal": deal,
        "bank": BANKS,
        "pe": PE_FIRMS,
        "activist": ACTIVISTS,
        "cb": central_bank(CENTRAL_BANKS),
        "cbx": central_bank(CB_NON_US),
        "cbv": central_bank(CB_VOTING),
        "cbh": central_bank(CB_HIKERS),
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
        "next_period": [
            "the holiday quarter",
            "the first half of next year",
            "the coming quarter",
            "the rest of the fiscal year",
        ],
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
        "bnbeat": money_pair(1.0, 12.0, "billion", rel=(0.02, 0.08)),
        "margin_pair": pct_pair(18, 48),
        "opm_pair": pct_pair(9, 26),
        "jobs": integer(400, 9000, 50),
        "count_k": lambda r: f"{r.randint(1100, 9800):,}",
        "bp": lambda r: f"{r.randint(3, 18)} basis points",
        "bp_n": integer(8, 95),
        "bp_step": ["25 basis points", "a quarter of a percentage point", "50 basis points", "half a percentage point"],
        "bp_hike": ["50-basis-point", "quarter-point", "25-basis-point", "half-point"],
        "rate": lambda r: (
            f"{r.choice([0.25, 0.5, 0.75, 1.0, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 3.25, 3.5, 3.75, 4.0, 4.25, 4.5, 4.75, 5.25, 5.5]):.2f}%"
        ),
        "yield_lvl": pct(3.6, 5.1, 2),
        "yield_corp": pct(4.8, 7.9, 2),
        # earnings phrases
        "earn_driver": EARN_DRIVERS,
        "earn_drag": EARN_DRAGS,
        "earn_drag_n": EARN_DRAG_NOUNS,
        "ceo_quote": CEO_QUOTES,
        "unit": BIZ_UNITS,
        "adj_result": [
            "broadly in line with expectations",
            "a clean beat on both sales and profit",
            "better than feared",
            "solid on the surface",
            "mixed at best",
            "encouraging after two difficult quarters",
        ],
        "cost_item": [
            "higher energy bills",
            "the cost of a product recall",
            "start-up costs at a new plant",
            "one-off legal charges",
            "a jump in marketing spending",
            "higher insurance premiums",
        ],
        "retail_goods": [
            "back-to-school clothing",
            "home furnishings",
            "own-label groceries",
            "outdoor gear",
            "beauty products",
            "small kitchen appliances",
        ],
        "capex_item": [
            "new production lines",
            "data center capacity",
            "fleet upgrades",
            "store refurbishments",
            "a new research campus",
            "automation at its warehouses",
        ],
        "region_sales": ["Europe", "Latin America", "China", "the Middle East", "Southeast Asia"],
        "frac": ["three quarters", "two thirds", "nearly 80%", "about 70%", "more than 75%"],
        "earn_tail": maybe(
            0.35,
            [
                ", the company said in a statement",
                ", according to a regulatory filing",
                ", the company said on a call with analysts",
                ", according to figures released on {weekday}",
            ],
        ),
        # markets
        "index": US_INDEXES,
        "eindex": INTL_INDEXES,
        "sector_group": FIN_SECTOR_GROUPS,
        "mkt_pos": MKT_POS,
        "mkt_neg": MKT_NEG,
        "mkt_driver": MKT_POS + MKT_NEG,
        "yield_name": [
            "benchmark 10-year Treasury note",
            "two-year Treasury note",
            "30-year Treasury bond",
            "German 10-year Bund",
            "10-year British gilt",
            "10-year Italian government bond",
        ],
        "gold_px": lambda r: f"${r.uniform(1850, 2750):,.2f}",
        "oil_px": lambda r: f"${r.uniform(62, 94):.2f}",
        "eur_lvl": lambda r: f"${r.uniform(1.04, 1.16):.4f}",
        "vix": dec(16, 34, 1),
        "mkt_co_pos": [
            "an analyst upgrade",
            "a report that it had received a takeover approach",
            "raising its full-year forecast",
            "reporting record quarterly sales",
            "announcing a bigger-than-expected share buyback",
            "regulators approved its flagship product",
        ],
        "mkt_co_neg": [
            "a rating downgrade",
            "a surprise profit warning",
            "the abrupt departure of its chief executive",
            "disclosing an accounting review",
            "losing a key patent case",
        ],
        "holiday": ["Thanksgiving", "Independence Day", "Easter", "Christmas", "Labor Day"],
        "vol_bn": lambda r: f"{r.uniform(8.2, 11.5):.1f}".replace(".0", ""),
        "mkt_open": ["higher", "lower", "flat", "muted", "firmer", "softer"],
        "mkt_event": [
            "the release of consumer price data",
            "minutes from the Fed's latest meeting",
            "a speech by the Fed chair",
            "earnings from several large banks",
            "the monthly jobs report",
            "a closely watched auction of 10-year notes",
        ],
        "sp_target": lambda r: f"{r.randrange(5200, 6900, 50):,}",
        "aud": lambda r: f"{r.uniform(63, 71):.2f} U.S. cents",
        "gas_event": [
            "an outage at a Norwegian processing plant",
            "unplanned maintenance at a major LNG terminal",
            "a strike at Australian export facilities",
            "a sharp drop in wind power output",
        ],
        "dow_pts": integer(90, 520),
        "btc": lambda r: f"${r.randrange(48000, 96000, 1000):,}",
        "wheat": lambda r: f"${r.uniform(5.2, 7.4):.2f}",
        "eu_data": ["manufacturing", "industrial production", "retail sales", "business sentiment"],
        "china_event": [
            "trade data due later in the week",
            "a key policy meeting in Beijing",
            "the release of Chinese inflation figures",
            "a decision on lending rates",
        ],
        "streak": streak,
        "usdjpy": ["150", "152", "155", "158", "160"],
        "recovery": ["strong", "swift", "broad-based", "rapid", "durable"],
        "mkt_tail": maybe(
            0.3, [", traders said", ", according to LSEG data", ", market participants said", ", strategists said"]
        ),
        # banking
        "cet_ratio": pct(11.0, 15.5),
        "cet_low": pct(8.1, 10.6),
        "rote": pct(9.0, 14.5),
        "rote_target": ["15%", "16%", "17%", "18%"],
        "mort_rate": pct(6.2, 7.8, 2),
        "pct_ch": pct(3.2, 5.9, 2),
        "bank_unit": [
            "wealth management",
            "credit card",
            "asset custody",
            "auto lending",
            "Asian retail banking",
            "mortgage servicing",
            "equipment finance",
        ],
        "tenure": integer(8, 32, commas=False),
        "branches": integer(18, 140, commas=False),
        "bank_region": [
            "the Midwest",
            "northern England",
            "the Pacific Northwest",
            "rural Scotland",
            "the Southeast",
            "upstate New York",
            "the Rhineland",
        ],
        "eff_pair": pct_pair(52, 68, gap=(0.8, 4.5)),
        "loan_seg": ["commercial real estate", "leveraged lending", "agricultural", "shipping", "office property"],
        "regulator_us": [
            "Bank regulators",
            "The Federal Reserve and the FDIC",
            "U.S. regulators",
            "The Office of the Comptroller of the Currency",
            "Federal banking agencies",
        ],
        "bank_thresh": ["$100 billion", "$250 billion", "$50 billion"],
        "nim": pct(1.6, 3.4, 2),
        "hours": word_int(6, 14),
        "us_state": US_STATES,
        "bk_venue": ["Delaware", "Houston", "New Jersey", "Manhattan", "Texas"],
        "bank_tail": maybe(
            0.3,
            [", the bank said", ", according to people familiar with the matter", ", the lender said in a statement"],
        ),
        # macro
        "country": COUNTRIES,
        "country_adj": COUNTRY_ADJ,
        "eu_country": EU_COUNTRIES,
        "em_country": EM_COUNTRIES,
        "infl": pct(1.8, 4.6),
        "infl_em": pct(18, 65),
        "infl_low": pct(0.8, 2.2),
        "hi_infl_country": ["Turkey", "Argentina", "Egypt", "Nigeria", "Pakistan", "Ghana"],
        "pct_rent": pct(4.0, 9.5),
        "hike_year": ["2021", "2022"],
        "payrolls": integer(95000, 310000, 1000),
        "unemp_move": lambda r: (
            r.choice(["ticked up to", "edged down to", "was unchanged at", "rose to", "fell to"])
            + f" {r.uniform(3.4, 4.6):.1f}%"
        ),
        "unemp": pct(3.4, 6.8),
        "gdp": pct(0.6, 3.9),
        "gdp_small": pct(0.3, 2.8),
        "gdp_world": pct(2.3, 3.2),
        "gdp_neg": pct(0.1, 0.8),
        "goods": [
            "furniture and electronics",
            "clothing",
            "cars and gasoline",
            "restaurant meals",
            "home improvement products",
        ],
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
        "hiring_sectors": [
            "healthcare, government and leisure and hospitality",
            "construction, retail and professional services",
            "healthcare and social assistance",
            "restaurants, hotels and transportation",
        ],
        "macro_tail": maybe(
            0.3,
            [", official figures showed", ", data released on {weekday} showed", ", according to government figures"],
        ),
        # central banks
        "vote": ["7-2", "6-3", "5-4", "8-1"],
        "prob_pair": prob_pair,
        "conf_city": ["Frankfurt", "Jackson Hole", "Sintra", "Washington", "Zurich", "London"],
        "target": ["its 2% target", "target", "the bank's 2% goal"],
        "cb_worry": [
            "sticky services inflation",
            "a sharp slowdown in hiring",
            "the tightening of financial conditions",
            "rising long-term bond yields",
            "the risk of cutting rates too early",
            "weak household spending",
        ],
        "cuts_n": ["two", "three", "two more", "at least two"],
        "cuts_total": ["twice", "three times", "four times", "five times"],
        "cum_bp": ["425", "450", "500", "525", "350", "400"],
        "month_future": ["the summer", "September", "the end of the year", "next spring", "December"],
        "cb_quote": [
            "inflation was moving in the right direction but was not yet beaten",
            "the bank would not hesitate to tighten policy further if needed",
            "the labor market had cooled more than expected",
            "policy was well positioned to respond to incoming data",
            "the economy was proving more resilient than forecast",
        ],
        "fsr_risk": [
            "private credit",
            "commercial real estate",
            "hedge fund leverage in government bond markets",
            "high valuations in equity markets",
            "cyber attacks on payment systems",
        ],
        "boj_action": [
            "end its yield curve control policy",
            "stop buying exchange-traded funds",
            "scale back its purchases of government bonds",
            "raise its short-term policy rate for the first time in years",
        ],
        "cb_tail": maybe(
            0.3, [", according to a statement", ", the bank said", ", in a decision widely expected by economists"]
        ),
        # credit
        "rd": rating_pair,
        "tranches": word_int(2, 5),
        "ust_tenor": ["two", "three", "five", "seven", "10"],
        "tenor": ["10", "20", "30", "7", "12"],
        "hy_spread": integer(310, 520, 5),
        "credit_event": [
            "an expected rise in Treasury yields",
            "the summer slowdown",
            "the U.S. election",
            "a busy week of central bank meetings",
        ],
        "def_rate": pct(2.1, 5.8, 2),
        "data_src": ["Fitch Ratings", "Moody's", "PitchBook LCD", "S&P Global Ratings"],
        "pc_rate": ["600 basis points", "700 basis points", "650 basis points", "750 basis points"],
        "pc_rate_pct": pct(10.5, 15.5, 1),
        "bond_px": integer(28, 72),
        "bond_pts": word_int(2, 9),
        "cover": ["four", "five", "six", "three", "seven"],
        "cds": integer(180, 890, 5),
        "ccc_yield": ["13%", "14%", "15%", "16%"],
        "muni_project": [
            "school construction",
            "water system upgrades",
            "transit projects",
            "hospital expansions",
            "bridge repairs",
        ],
        "coupon": lambda r: f"{0.125 * r.randint(4, 34):.3f}".rstrip("0").rstrip(".") + "%",
        "share_big": ["90%", "85%", "nine in ten loans", "more than 80%"],
        "end_market": [
            "housing",
            "auto production",
            "freight volumes",
            "semiconductor demand",
            "commercial aviation",
            "retail spending",
        ],
        "funding_src": [
            "private placements",
            "asset-backed securities",
            "direct lenders",
            "the euro bond market",
            "private credit funds",
        ],
        "recovery_c": integer(38, 61),
        "credit_tail": maybe(
            0.3,
            [
                ", according to data compiled by Bloomberg",
                ", people familiar with the matter said",
                ", according to a filing",
            ],
        ),
        # M&A
        "share_px": lambda r: f"${r.uniform(12, 240):.2f}",
        "prem": pct(18, 62, 0),
        "stake": pct(4.1, 14.9),
        "reg_region": ["Brussels", "Washington", "Britain", "China", "Australia"],
        "reg_body": [
            "China's market regulator",
            "the European Commission",
            "the U.S. Federal Trade Commission",
            "Britain's Competition and Markets Authority",
        ],
        "rank": ["second", "third", "fourth", "fifth"],
        "region_m": ["Europe", "North America", "Asia", "Latin America", "the United States"],
        "ratio": lambda r: f"{r.uniform(0.21, 1.85):.4f}",
        "months_after": word_int(5, 16),
        "mult": ["three times", "twice", "four times", "two and a half times", "five times"],
        "mult_ebitda": dec(8.5, 19.5, 1),
        "approval": pct(86, 99, 0),
        "funding": deal_funding,
        "liability": [
            "pension deficit",
            "legacy litigation",
            "environmental liabilities",
            "asbestos claims",
            "unfunded retiree healthcare obligations",
        ],
        "mna_tail": maybe(
            0.3, [", people familiar with the matter said", ", according to a statement", ", a spokesperson said"]
        ),
    }
)

TEMPLATES: dict[str, list[str]] = {}

TEMPLATES["earnings"] = [
    "{co} reported {qadj} revenue of {rev_bn}, up {pct_m} from a year earlier, as demand for its core products held up better than analysts had feared.",
    "Shares of {co} fell {pct_m} in after-hours trading after the {co.sector} cut its full-year profit forecast, citing weaker orders and higher input costs.",
    "{co.short} earned {eps_pair.hi} a share in {qtr}, beating the average analyst estimate of {eps_pair.lo}, helped by {earn_driver}.",
    "{co}, the {co.sector}, reported adjusted earnings of {eps_pair.lo} a share, short of the {eps_pair.hi} Wall Street had expected, as {earn_drag}.",
    "Net income at {co.short} rose to {mpair.hi} in {qtr} from {mpair.lo} a year ago{earn_tail}.",
    "{co} raised its guidance for {fy} and now expects adjusted earnings of {eps_range} a share, above its previous outlook.",
    "Gross margin at {co.short} [narrowed|shrank|slipped] to {margin_pair.lo} from {margin_pair.hi} a year earlier, reflecting [heavier promotions and higher freight costs|a less profitable product mix|higher raw material costs|price cuts to win market share].",
    "{retailer.short} said comparable sales rose {pct_s} during the holiday period, while online orders grew {pct_m}{earn_tail}.",
    "{co.short} chief executive {person} told analysts on a conference call that {ceo_quote}.",
    "Analysts at {bank} said {co.short}'s results were {adj_result}, but warned that guidance for the coming quarter looked conservative.",
    "{co} posted a(n) {qadj} net loss of {mpair.lo}, compared with a profit of {mpair.hi} in the same period last year.",
    "Revenue from {techco.short}'s [cloud division|data center business|subscription services unit|artificial intelligence products] [jumped|surged|rose] {pct_l} to {rev_bn}, making it the company's fastest-growing business for a(n) {ordinal} consecutive quarter.",
    "{co} said it would buy back up to {money_bn_small} of its own shares and raise its quarterly dividend by {pct_s}.",
    "Adjusted EBITDA at {co} came in at {money_m}, slightly below consensus, as the {co.sector} absorbed {cost_item}.",
    "{co.short} shares have [gained|risen|climbed] {pct_l} [this year|over the past six months|since January], and the {qadj} report is seen as a test of whether [the rally can continue|the turnaround is real|the recovery in demand will last].",
    "Free cash flow at {co.short} improved to {mpair.hi} in {qtr}, giving management room to [pay down debt ahead of a bond maturity in {year_future}|raise the dividend|fund new acquisitions|buy back more shares].",
    "For {fy}, {co} now expects revenue of between {rev_range}, roughly in line with analyst expectations.",
    "Investors had been bracing for a weak quarter at {co}, but the {co.sector} delivered higher sales in every region except {region_sales}.",
    "{co.short} took a(n) {money_m} impairment charge related to its {co.unit} business, which it has been trying to sell since last year.",
    "Despite the earnings beat, {co.short} stock slipped {pct_s} as investors focused on a rise in inventories and a softer outlook for {next_period}.",
    "Sales at {retailer} rose {pct_s} on a comparable basis in the latest quarter, helped by strong demand for {retail_goods}.",
    "{co} said currency swings cut about {money_m} from {qadj} revenue, and that organic growth excluding those effects was {pct_s}.",
    "[Earnings season has been kinder than expected|The reporting season has started strongly|Corporate results have surprised on the upside], with {frac} of S&P 500 companies that have reported so far beating [profit estimates|analysts' forecasts|Wall Street expectations].",
    "{co.short}'s finance chief, {person}, said the company expects capital spending of about {money_bn_small} next year, largely on {capex_item}.",
    "{co} swung to a net profit of {money_m} in {qtr} after a restructuring program that eliminated about {jobs} jobs.",
    "Wall Street expects {co} to report earnings of {eps} a share on revenue of {rev_bn} when it releases {qadj} results on {weekday}.",
    "{co} shares rose {pct_s} in premarket trading after quarterly sales topped forecasts.",
    "{co.short} reported a(n) {pct_m} drop in {qadj} operating profit, its {ordinal} decline in a row.",
    "{co} will report {qadj} results before the market opens on {weekday}.",
    "Revenue at {co} was roughly flat at {rev_bn}, in line with expectations.",
    "In a letter to shareholders, {co.short} chief executive {person} said the {co.sector} had weathered a difficult year better than most rivals and that {ceo_quote}.",
    # --- probe-only templates (last N_PROBE_TEMPLATES) ---
    "{co.short} warned that profit for {fy} would come in at the low end of its range, blaming {earn_drag_n}.",
    "Revenue at {co}'s largest division climbed {pct_m} year on year, while its smaller {co.unit} unit shrank for a(n) {ordinal} straight quarter.",
    "{co}'s {qadj} operating margin widened to {opm_pair.hi} from {opm_pair.lo}, as price increases outpaced cost inflation.",
    "Analysts had forecast {qadj} revenue of {bnbeat.lo} for {co.short}, but the {co.sector} reported {bnbeat.hi}, sending its shares higher before the opening bell.",
    "{co.short} reports results on {weekday}, and options pricing implies a move of about {pct_s} in either direction after the release.",
    "The board of {co} approved a special dividend of {eps} a share after the {co.sector} ended the year with more than {money_bn_small} in net cash.",
    "{techco} said subscription revenue rose {pct_m} in {qtr} and that the number of customers paying more than $100,000 a year grew to {count_k}.",
    "Shares of {co} jumped {pct_m} on {weekday} after it reported better-than-expected {qadj} earnings and said {ceo_quote}.",
    "{co.short} beat profit forecasts but kept its outlook for {fy} unchanged.",
]

TEMPLATES["markets"] = [
    "{index} rose {pct_idx} on {weekday}, led by {sector_group}, as investors cheered {mkt_pos}.",
    "Stocks slid across Europe, with {eindex} closing down {pct_idx} after {mkt_neg}.",
    "The yield on the {yield_name} climbed {bp} to {yield_lvl}, its highest level since {month}, as traders pared bets on rate cuts.",
    "Gold rose {pct_idx} to {gold_px} an ounce on {weekday} as {gold_reason}{mkt_tail}.",
    "{crude} futures settled {pct_idx} lower at {oil_px} a barrel after {oil_neg}.",
    "The dollar slipped {pct_tiny} against a basket of major currencies on {weekday} as traders {dollar_reason}, while {fxo}.",
    "Volatility picked up sharply after {mkt_neg}, with the Cboe Volatility Index jumping to {vix}, its highest reading in {weeks} weeks.",
    "{co} was the biggest gainer on {index}, surging {pct_m} after {mkt_co_pos}.",
    "Trading was [thin|light|subdued] ahead of the {holiday} holiday, with about {vol_bn} billion shares changing hands on U.S. exchanges, [below the 20-day average|one of the quietest sessions of the year|well under recent levels].",
    "[Emerging market stocks|Emerging market currencies|Stocks in developing economies] fell for a(n) {ordinal} straight session as [money flowed back into U.S. assets and the dollar strengthened|Treasury yields climbed|investors worried about slowing growth in China].",
    "Technology shares led the selloff on {weekday}, with the Nasdaq Composite dropping {pct_idx} {tech_reason}.",
    "Japan's Nikkei average ended {pct_idx} higher on {weekday}, {nikkei_reason}.",
    "{metal.name} prices hit a(n) {mo_n}-month high on the London Metal Exchange, buoyed by {metal.supply} and {metal_demand}.",
    "Strategists at {bank} raised their year-end target for the S&P 500 to {sp_target}, citing resilient earnings and cooling inflation.",
    "Investors poured {money_bn} into {fund_kind} in the latest week, the largest weekly inflow since {month}, according to {flow_src}.",
    "The gap between two-year and 10-year Treasury yields narrowed to {bp_n} basis points, a move traders attributed to {mkt_driver}.",
    "Regional bank stocks underperformed on {weekday}, with the KBW regional bank index falling {pct_s} {rb_reason}.",
    "Futures tied to {index} pointed to a(n) {mkt_open} open, with traders awaiting {mkt_event} later in the day.",
    "European shares hovered near a record on {weekday}, with gains in [healthcare and luxury goods|banks and insurers|technology stocks|utilities] offsetting losses among [miners|automakers|energy companies|chemical makers]{mkt_tail}.",
    "Short sellers have increased bets against {co}, with short interest rising to {pct_m} of shares available for trading.",
    "{asia_idx} tumbled {pct_idx_big} on {weekday} {asia_reason}.",
    "The {fxm.name} weakened to {fxm.lvl} on {weekday} after {fxm.cb} signaled that {fxm_msg}.",
    "European natural gas prices jumped {pct_m} after {gas_event}, raising fears of tighter supply heading into winter.",
    "After a choppy {weekday} session, the Dow Jones Industrial Average closed {updown} {dow_pts} points, or {pct_idx}, while the Nasdaq {nas_move}.",
    "{crypto.name} fell below {crypto.lvl} for the first time in {weeks} weeks {crypto_reason}, dragging down shares of crypto exchanges and miners.",
    "{grain.name} futures in Chicago rose {pct_s} to {grain.px} a bushel after {grain_reason}.",
    "Oil prices [edged lower|slipped|drifted higher|firmed] on {weekday} as traders weighed [rising U.S. output|the outlook for Chinese demand|fresh sanctions on Russian exports|an OPEC+ decision on production].",
    "{index} closed at a record high on {weekday}, its {ordinal} record close this month.",
    "The dollar rose {pct_tiny} against the {fx_ccy} on {weekday}, while {asset_flat} was little changed.",
    "Treasury yields [rose|climbed|edged higher] after an auction of {ust_tenor}-year notes drew [tepid demand|weak demand from foreign buyers|the softest bidding in months].",
    "With investors increasingly convinced that [rates have peaked|a recession will be avoided|inflation is under control], the rally has spread beyond the technology giants that led last year's gains, and strategists at {bank} say [small caps|cyclical stocks|value shares] could have further room to run.",
    # --- probe-only ---
    "The euro fell to a(n) {mo_n}-week low against the dollar after weak {eu_data} data from {eu_country} reinforced expectations of further ECB rate cuts.",
    "Investors sold long-dated government bonds, pushing the [30-year Treasury yield|10-year Treasury yield|30-year gilt yield] up {bp} to {yield_lvl} amid concerns about [heavy issuance|widening budget deficits|sticky inflation].",
    "Shares of {co} sank {pct_m} in heavy trading, making it the worst performer on {index} after {mkt_co_neg}.",
    "Asian markets opened mixed on {weekday}, with Seoul's Kospi up {pct_idx} and Shanghai stocks slightly lower ahead of {china_event}.",
    "[Silver|Platinum|Palladium] outperformed other precious metals, rallying {pct_s} on the session as [industrial demand remained strong|supply concerns mounted|short sellers covered their positions]{mkt_tail}.",
    "{index} has now gained in {streak.n} of the past {streak.m} weeks, its longest winning streak since {year_past}, as investors cheered {mkt_pos}.",
    "[Currency traders|Analysts|Strategists at {bank}] said the yen's slide past {usdjpy} per dollar had [increased|raised] the risk of [intervention by Japanese authorities|a policy response from Tokyo|official action to support the currency].",
    "Analysts at {bank} cut European equities to underweight, arguing that valuations already price in a(n) {recovery} economic recovery.",
    "European shares closed [flat|little changed|slightly higher] on {weekday} as gains in [banks|insurers|defense stocks] offset [weaker miners|losses in luxury stocks|a slide in automakers].",
]

TEMPLATES["banking"] = [
    "{bank} said it would cut about {jobs} jobs over the next [two|three] years as part of a [cost-reduction plan|restructuring|cost-cutting drive] aimed at [lifting returns|catching up with more profitable rivals|saving {money_m} a year].",
    "Net interest income at {bank} rose {pct_m} to {money_bn_small} in {qtr}, as higher rates on loans outpaced the cost of deposits.",
    "{bank.short} set aside {mpair.hi} for [potential loan losses|bad loans|expected credit losses], up from {mpair.lo} a year earlier, reflecting [weakness in its commercial property book|rising delinquencies on credit cards|stress among small business borrowers|a weaker economic outlook].",
    "[Regulators|Federal regulators|The bank's supervisors] ordered {bank} to [strengthen|overhaul] its [anti-money-laundering controls|risk management systems|oversight of third-party partners] after an examination found [gaps in how it monitored transactions|serious weaknesses|repeated lapses].",
    "Deposits at {dep_group} stabilized in {month}, according to Federal Reserve data, easing fears of {dep_fear}.",
    "{bank.short} chief executive {person} said the bank's capital position remained strong, with a common equity tier 1 ratio of {cet_ratio}.",
    "Investment banking fees at {bank.short} [climbed|jumped|rose] {pct_l} year on year, driven by [a revival in debt underwriting and a pickup in advisory work|a rebound in initial public offerings|strong demand for bond sales from corporate clients|a busy quarter for merger advice].",
    "{bank} agreed to pay {money_m} to settle allegations that it misled customers about overdraft fees, without admitting wrongdoing.",
    "Mortgage applications {mort.apps} {pct_s} last week as the average 30-year fixed rate {mort.rate} to {mort_rate}, {mort_src}.",
    "{bank} is weighing a sale of its {bank_unit} unit, which could fetch as much as {money_bn_small}{bank_tail}.",
    "{bank.short}'s return on tangible equity [improved|rose|climbed] to {rote} in {qtr}, [inching closer to|still short of|moving toward] the {rote_target} target it set for {year_future}.",
    "Credit card delinquencies rose again in {month}, with the charge-off rate at {bank} reaching {pct_ch}, its highest since {year_past}.",
    "Trading revenue at {bank.short} rose {pct_m} in {qtr}, as volatile markets boosted client activity in fixed income, currencies and commodities.",
    "[Analysts|Investors|Some analysts] said {bank.short}'s decision to [raise its dividend|restart share buybacks|lift its payout] signaled confidence that it can absorb [higher capital requirements under the new rules|rising loan losses|the cost of new regulations].",
    "{bank} appointed {person} as chief risk officer, replacing a(n) {tenure}-year veteran of the bank who is retiring at the end of the year.",
    "The loan book at {bank.short} grew {pct_s} in {qtr}, led by [lending to small businesses|corporate lending|credit card balances|commercial loans], while [mortgage balances were broadly flat|home loans shrank slightly|auto lending slowed].",
    "{bank} passed this year's stress test [comfortably|with room to spare|more easily than last year], with its capital ratio falling to a low of {cet_low} under the [most severe scenario|hypothetical severe recession|regulators' adverse scenario].",
    "{eu_banks} have [rallied|climbed|gained] {pct_l} this year as higher interest rates [lifted lending margins|boosted profits|restored earnings] after [a decade of near-zero borrowing costs|years of negative rates|a long stretch of ultra-low rates].",
    "{bank.short} said it would close {branches} branches across {bank_region}, blaming a shift to mobile banking that has sharply reduced foot traffic.",
    "Savers have moved {money_bn} into {mm_dest} since {month}, pressuring banks to raise the rates they pay on deposits.",
    "The efficiency ratio at {bank}, a measure of costs relative to revenue, improved to {eff_pair.lo} from {eff_pair.hi} a year earlier.",
    "{bank} plans to launch a digital-only bank in {country} next year, targeting younger customers who rarely visit branches.",
    "Shares of {bank} dropped {pct_m} after the lender disclosed a(n) {money_m} loss tied to a single borrower in its {loan_seg} portfolio.",
    "Client assets in {bank.short}'s [wealth management division|private bank|asset management arm] reached a record {money_tn}, as [rising markets and net inflows lifted balances|wealthy clients added money|new advisers brought in fresh assets].",
    "{regulator_us} proposed rules that would require lenders with more than {bank_thresh} in assets to hold more long-term debt that can absorb losses.",
    "{bank.short} reported a(n) {pct_m} rise in {qadj} profit, beating estimates as lower-than-expected provisions offset weaker mortgage income{bank_tail}.",
    "{bank} said it would open {branches} new branches in {us_state} next year.",
    "{bank.short} shares rose {pct_s} after the lender beat quarterly profit forecasts.",
    "Deposits at {bank} fell {pct_s} in {qtr} as customers chased higher yields elsewhere.",
    "{bank} named {person} as its next chief executive, effective in {month}.",
    "In an interview, {bank.short} chief executive {person} said the lender would keep investing in technology even as it cuts costs elsewhere, arguing that banks that fail to modernize will lose customers to nimbler rivals.",
    # --- probe-only ---
    "{bank} said its net interest margin [narrowed|slipped|fell] to {nim} in {qtr}, as [customers shifted savings into higher-yielding term deposits|competition for deposits intensified|loan growth slowed].",
    "{bank} has hired {bank2} to advise on a possible capital raise after losses in its property portfolio eroded its buffers{bank_tail}.",
    "A group of [regional banks|community lenders|credit unions] in {us_state} agreed to [merge their payment processing operations|share a new digital banking platform|pool their technology spending] to cut costs and compete with [larger rivals|national banks|fintech startups].",
    "{bank.short}'s chief financial officer, {person}, said deposit costs were likely to peak in {qtr} before easing next year.",
    "Customer complaints about {bank} jumped after a technology outage left account holders unable to log in for nearly {hours} hours.",
    "{bank} said its common equity tier 1 ratio stood at {cet_ratio} at the end of {qtr}, comfortably above the regulatory minimum.",
    "Consumer lending at {bank.short} slowed in {qtr}, with new auto loan originations down {pct_m} as higher rates deterred buyers.",
    "{bank} said it would repay the remaining {money_bn_small} it borrowed under the central bank's [term funding scheme|emergency lending program|pandemic-era funding facility] [ahead of schedule|by the end of the year|over the next two quarters].",
    "{bank} raised the rate on its easy-access savings account to {pct_sav} for new customers.",
]

TEMPLATES["macro"] = [
    "{us_cpi} rose {pct_mo} in {month}, bringing the annual rate to {infl}, {vs_fcst}.",
    "The economy added {payrolls} jobs last month, and the unemployment rate {unemp_move}, the Labor Department said.",
    "{country}'s economy grew at an annualized rate of {gdp} in {qtr}, supported by [robust consumer spending and a rebound in business investment|strong exports|higher government spending|a recovery in housing].",
    "Retail sales in {country} fell {pct_mo} in {month} from the previous month, as households cut back on spending on {goods}{macro_tail}.",
    "Manufacturing activity in {pmi_area} contracted for a(n) {ordinal} consecutive month in {month}, with the purchasing managers' index slipping to {pmi}.",
    "Economists at {bank} now expect {country} to slip into a mild recession next year, citing tighter credit and weak export demand.",
    "China's exports rose {pct_s} year on year in {month}, beating forecasts, though imports {china_imp}.",
    "The {tdef.adj} trade deficit widened to {tdef.cur}{bn_num} billion in {month}, as {trade_reason}.",
    "Wage growth in {country} slowed to {wage} in the three months to {month}, a development likely to reassure policymakers worried about inflation.",
    "{housing_metric} fell {pct_m} in {month} to an annual rate of {starts}, the lowest since {year_past}, as {housing_reason}.",
    "The government of {country} [cut|lowered|trimmed] its growth forecast for {year} to {gdp_small}, blaming [weaker global trade and a slowdown in its main export markets|high energy prices|a slump in construction|weak household spending].",
    "Initial jobless claims {claims_dir.dir} by {claims_chg} to {claims} in the week ended {month_day}, {claims_dir.msg}.",
    "Consumer confidence in {country} dropped to a(n) {mo_n}-month low in {month}, as households grew more pessimistic about prices and job security.",
    "The budget deficit in {em_country} [reached|widened to|came in at] {deficit_pct} of gross domestic product last year, prompting the finance ministry to announce [spending cuts|new taxes|a review of fuel subsidies|cuts to public investment].",
    "Producer prices [in {country}|in the United States|], a gauge of inflation in the pipeline, rose {pct_mo} last month, driven largely by higher costs for [energy and transportation|food|metals|services such as trade and warehousing].",
    "Industrial output in {country} unexpectedly declined {pct_tiny} in {month}, weighed down by lower production of cars and chemicals{macro_tail}.",
    "[Economists polled by Reuters|Most economists|Forecasters surveyed by the central bank] expect core inflation in {country}, which strips out food and energy prices, to [ease|slow|fall back] to {infl} by the end of {year}.",
    "{imf} cut its forecast for global growth next year to {gdp_world}, warning that {global_risk} posed a growing threat to the outlook.",
    "Household spending accounts for {share} of the economy, so the squeeze on real incomes is being closely watched by {country_adj} policymakers.",
    "Business investment in {country} rose {pct_s} in {qtr}, driven by {capex_driver}, even as spending on new buildings continued to decline.",
    "Job openings fell to {jolts} in {month}, the fewest in {years_s} years, a sign that {jolts_msg}.",
    "Inflation in {eu_country} eased to {infl_low} in {month}, its lowest level in more than {years_s} years, as energy prices fell{macro_tail}.",
    "[Remittances and tourism receipts|Strong commodity exports|Lower oil import bills|A rebound in tourism] helped narrow {em_country}'s current account deficit to {deficit_pct} of GDP, easing pressure on [its currency|foreign reserves|the central bank].",
    "Rents in [{country}|major cities in {country}] rose {pct_rent} over the past year, [outpacing wage growth|far faster than incomes] and adding to a cost-of-living squeeze on [younger households|renters|students and young families].",
    "Economists said the unexpected jump in {month} payrolls was driven by hiring in {hiring_sectors}.",
    "{country}'s economy contracted {gdp_neg} quarter on quarter in {qtr}, the first decline in {years} years, the statistics agency said.",
    "{country}'s unemployment rate held steady at {unemp} in {month}, in line with forecasts.",
    "Consumer prices in {eu_country} rose {infl} from a year earlier in {month}.",
    "U.S. retail sales rose {pct_mo} in {month}, beating expectations, helped by {rs_help}.",
    "The economy of {country} grew {gdp_small} last year, the slowest pace since {year_past}.",
    "Although headline inflation has [fallen sharply from its peak|eased considerably|come down quickly], economists at {bank} warn that [services prices, which are driven largely by wages,|rising rents and insurance costs|sticky wage growth and high rents] could keep underlying inflation in {country} above target until {year_future}.",
    # --- probe-only ---
    "Factory orders in {eu_country} rebounded {pct_s} in {month}, driven by large contracts for aircraft and ships, official data showed.",
    "[U.S. productivity growth|Labor productivity in {country}|Worker productivity] picked up to {gdp} in {qtr}, which economists said could allow wages to rise without [fueling inflation|squeezing profit margins|adding to price pressures].",
    "Youth unemployment in {country} [climbed|rose|jumped] to {youth} in {month}, prompting calls for the government to [expand apprenticeships and training programs|cut payroll taxes for young workers|invest in vocational schools].",
    "Import prices fell {pct_mo} [last month|in {month}] as [a stronger currency made foreign goods cheaper|energy costs declined|shipping rates eased], the {country_adj} statistics office said.",
    "A closely watched survey of [small businesses|manufacturers|service companies|purchasing managers] showed optimism falling to its lowest level since {year_past}, with [owners|respondents|executives] citing [inflation|labor shortages|high borrowing costs|weak demand] as their biggest problem.",
    "The finance ministry in {country} expects the economy to grow {gdp_small} in {year}, with [exports recovering as global demand improves|consumer spending picking up as inflation eases|investment supported by lower interest rates].",
    "The [personal saving rate|U.S. saving rate|household saving rate] fell to {save_rate} in {month}, suggesting [American consumers|households] are [drawing down the cushions they built during the pandemic|borrowing more to keep spending|struggling to keep up with higher prices].",
    "Annual inflation in {hi_infl_country} surged to {infl_em} in {month}, driven by food prices and a sharp depreciation of the local currency.",
    "[Japan's core consumer prices|Core consumer prices in Tokyo|Consumer prices in Japan] rose {infl} in {month} from a year earlier[, keeping pressure on the central bank|, above the central bank's target|].",
]

TEMPLATES["central_banks"] = [
    "{cb.tname} left its benchmark interest rate unchanged at {cb.rate}, but signaled that it could begin cutting borrowing costs later this year.",
    "{cb.tname} raised rates by {bp_step} to {cb.rate}, the highest level in {years} years, and said further tightening could not be ruled out.",
    "{cbv.short} policymakers voted {cbv.vote} to [cut the policy rate|lower borrowing costs|reduce interest rates], with the dissenters arguing that [inflation pressures remained too strong|wage growth was still too high|it was too soon to ease].",
    "Minutes of {cb.the_short}'s {month} meeting showed that several officials were worried about {cb_worry}.",
    "[Traders now see|Money markets are pricing|Futures markets imply] a(n) {prob_pair.hi} chance that {cb.the_short} will cut rates at its next meeting, up from about {prob_pair.lo} [a week ago|before the data|at the start of the month].",
    "The {cbx.cur} fell {pct_tiny} against the dollar after {cbx.tname} surprised markets with a larger-than-expected rate cut.",
    "Speaking at a conference in {conf_city}, {cb.short} policymaker {person} said rates would need to stay restrictive until inflation was clearly heading back to {target}.",
    "{cb.tname} said it would slow the pace at which it shrinks its balance sheet, starting in {month}{cb_tail}.",
    "In its quarterly monetary policy report, {cb.tname} cut its growth forecast and projected that inflation would return to target by {year_future}.",
    "[Bonds rallied|Government bond yields fell|The {cb.cur} weakened] after {cb.head} said the bank was in no hurry to raise rates further, [a comment investors read as dovish|remarks that traders took as a signal that tightening was over|comments that surprised some economists].",
    "The decision to hold rates was unanimous, {cb.tname} said, though members noted that risks to the {cb.area} inflation outlook were tilted to the upside.",
    "Analysts at {bank} expect {cb.tname} to deliver {cuts_n} quarter-point rate cuts this year, taking the policy rate to {cb.rate} by December.",
    "{cbx.tname} intervened in the currency market for the first time since {year_past}, selling foreign reserves to support the slumping {cbx.cur}.",
    "{cb.tname} kept its key rate at {cb.rate} and reiterated that future decisions would depend on incoming data{cb_tail}.",
    "[Former {cb.short} officials|Several prominent economists|Lawmakers] have criticized {cb.tname} for being too slow to respond to rising prices, arguing that its [forecasts were consistently too optimistic|models failed to capture supply shocks|communication confused markets].",
    "Policymakers at {cbh.tname} have raised borrowing costs by a cumulative {cum_bp} basis points since the tightening cycle began in {hike_year}.",
    "{cb.the_short}'s preferred measure of underlying inflation eased to {infl} in {month}, bolstering the case for a rate cut at the next meeting.",
    "{cb.tname} unveiled a new lending facility for banks facing deposit outflows, offering loans of up to {years_s} years against high-quality collateral.",
    "In a speech on {weekday}, {cb.short} policymaker {person} said the labor market had come into better balance but it was too early to declare victory over inflation.",
    "[Bond yields fell sharply|Stocks jumped|Short-term yields tumbled] after {cb.tname} dropped a reference to further tightening from its [statement|policy statement|guidance], which investors took as a sign that [hikes were over|the next move would be a cut|the tightening cycle had ended].",
    "Investors will scrutinize {fomc_doc} on {weekday} for clues about {fomc_clue}.",
    "The Bank of Japan said on {weekday} it would {boj_action}, a historic shift away from decades of ultra-loose monetary policy.",
    "Officials at {cb.tname} warned that [household debt remained elevated|house prices looked stretched|many borrowers faced sharply higher repayments] and that a sharp rise in unemployment could trigger [a wave of mortgage defaults|forced property sales|losses at smaller lenders].",
    "{cb.head} told lawmakers that {cb_quote}, adding that the bank was prepared to act if conditions deteriorated.",
    "Inflation expectations among households {cb.area_in} have drifted higher, a worrying sign for {cb.tname} as it weighs whether to keep rates on hold.",
    "{cb.tname} cut its key rate by {bp_step} to {cb.rate}, citing a faster-than-expected decline in inflation and signs of weakening demand{cb_tail}.",
    "{cb.tname} held rates at {cb.rate} on {weekday}, as economists had expected.",
    "{cb.short} officials meet next week amid growing signs that inflation is cooling.",
    "{cb.the_short} is widely expected to cut rates by {bp_step} in {month}.",
    "{cb.head} said on {weekday} that the risks to inflation had become more balanced.",
    "With inflation still above target but [growth slowing|unemployment rising|consumer spending weakening], {cb.tname} faces a difficult balancing act, because cutting too early risks reigniting price pressures while waiting too long could tip the economy into recession.",
    # --- probe-only ---
    "Economists said {cb.the_short} was likely to keep rates on hold until at least {month_future}, given stubborn services inflation and a tight labor market.",
    "The latest financial stability report from {cb.tname} flagged risks from {fsr_risk}, though it said the banking system remained resilient.",
    "{cb.tname} surprised economists by holding rates steady at {cb.rate}, while most had expected a cut of {bp_step}.",
    "[Two-year government bond yields|Short-dated bond yields|Rate-sensitive two-year yields] rose {bp} after {cb.head} pushed back against market expectations of [imminent rate cuts|a rapid easing cycle|cuts as soon as next month].",
    "{cb.tname} has now cut rates {cuts_total} since {month} of last year, bringing its policy rate down to {cb.rate}.",
    "Several {cb.short} officials signaled in recent [interviews|speeches] that they favored [a pause|holding rates steady|a slower pace of cuts], arguing that [earlier hikes had yet to work through the economy|inflation risks had not gone away|the labor market remained tight].",
    "A review of the monetary policy framework by {cb.tname} will examine whether its [inflation target|forward guidance|forecasting models] and communication tools remain fit for purpose, with conclusions due in {year_future}.",
    "The minutes [revealed|showed] a split among {cb.short} policymakers, with some favoring a(n) {bp_hike} hike and others preferring to wait for [more data|clearer signs of slowing inflation|the next set of forecasts].",
    "{cb.tname} kept its policy rate unchanged at {cb.rate}, matching forecasts.",
]

TEMPLATES["credit"] = [
    "{rd.agency} downgraded {co} to {rd.lo} from {rd.hi}, citing rising leverage after the company's debt-funded acquisition of a rival.",
    "{co} sold {money_bn_small} of bonds in a(n) {tranches}-part deal, with the longest-dated {tenor}-year notes priced to yield {yield_corp}.",
    "Spreads on {spread_mkt} widened to {hy_spread} basis points over government bonds, the widest since {month}, {spread_reason}.",
    "Investment-grade issuance topped {money_bn} this week as companies rushed to lock in borrowing costs ahead of {credit_event}.",
    "{pe} is seeking to raise {money_bn_small} in leveraged loans to fund its buyout of {co}{credit_tail}.",
    "Default rates among leveraged loan borrowers climbed to {def_rate} in {month}, the highest since {year_past}, according to {data_src}.",
    "{co} has hired restructuring advisers as it prepares for talks with creditors over {money_m} of bonds maturing next year.",
    "[Private credit funds|Direct lenders|Asset managers with private credit arms] have stepped in to finance [deals|buyouts|acquisitions] that banks were unwilling to underwrite, charging as much as {pc_rate} over the benchmark rate.",
    "{rd.agency} revised its outlook on {country} to negative from stable, warning that [widening budget deficits|rising debt|political gridlock|weak growth] could weigh on its credit profile.",
    "Bonds issued by {co} fell to about {bond_px} cents on the dollar after the [company|{co.sector}] [skipped an interest payment and entered a 30-day grace period|warned it might breach its loan covenants|said it was considering a debt restructuring].",
    "Orders for the new [bonds|notes|debt] from {co} peaked at more than {cover} times the amount on offer, allowing the {co.sector} to [tighten pricing by {bp}|increase the size of the deal|borrow at its lowest spread in years].",
    "Fitch affirmed {co}'s rating with a stable outlook, noting that solid cash flow should allow the {co.sector} to reduce debt over the next two years.",
    "Credit default swaps on {co} widened [sharply|to a record], with the cost of insuring its debt against default for five years rising to {cds} basis points [after {mkt_co_neg}|amid worries about its liquidity|].",
    "{bbb_issuers} rated in the lowest investment-grade tier face about {money_bn} of maturities {mat_when}, raising the risk of a wave of downgrades to junk.",
    "{co} filed for Chapter 11 bankruptcy protection in {bk_venue}, listing liabilities of {money_bn_small} and securing {money_m} of debtor-in-possession financing.",
    "Yields on bonds rated triple-C, the riskiest tier of the junk market, have climbed above {ccc_yield}, [effectively shutting out weaker borrowers|forcing some companies to seek private loans|raising fears of more defaults next year].",
    "{bank} arranged a(n) {money_bn_small} revolving credit facility for {co}, replacing an existing line that was due to expire in {year_future}.",
    "Municipal bond sales in {us_state} surged in {month}, as local governments sought to finance {muni_project} before borrowing costs rise further.",
    "Holders of {co}'s senior notes agreed to extend maturities by {years_s} years in exchange for a higher coupon and additional collateral.",
    "Sales of collateralized loan obligations have rebounded this year, with new issuance reaching {money_bn} through {month}, according to {data_src}.",
    "{co} priced {money_m} of convertible notes due {year_future} with a coupon of {coupon} and a conversion premium of {pct_m}.",
    "Covenant-lite loans now make up about {share_big} of the leveraged loan market, leaving [lenders|investors|loan buyers] with fewer protections if borrowers [run into trouble|miss their targets|see earnings fall].",
    "Moody's said {co}'s liquidity was adequate for the next {months} months, but warned that a prolonged downturn in {end_market} would pressure its ratings.",
    "[Sovereign bond spreads for {em_country} tightened|Dollar bonds issued by {em_country} rallied] after the government reached a staff-level agreement with the IMF on a(n) {money_bn_small} [loan program|bailout|financing package].",
    "Distressed debt investors have been buying the loans of {co} at steep discounts, betting on a recovery once the company restructures its balance sheet.",
    "Corporate treasurers are turning to {funding_src} to refinance debt, after banks tightened lending standards for a(n) {ordinal} straight quarter.",
    "{co} sold {money_m} of {tenor}-year senior notes on {weekday} to refinance existing debt.",
    "{rd.agency} placed the {rd.hi} rating of {co} on review for a possible downgrade.",
    "Junk bond funds reported outflows of {money_bn_small} in the latest week, according to {data_src}.",
    "Bonds of {co} fell sharply after the {co.sector} withdrew its earnings forecast.",
    "Investors who bought [risky corporate debt|junk bonds|leveraged loans] at the height of the rate scare have been rewarded with returns of about {pct_s} this year, but strategists at {bank} warn that tight spreads leave little room for error.",
    # --- probe-only ---
    "{rd.agency} upgraded {co} to {rd.hi} from {rd.lo}, citing a sustained reduction in debt and stronger free cash flow.",
    "Bonds of {co} due in {year_future} rallied {bond_pts} points after the {co.sector} said it would sell a division and use the proceeds to repay debt.",
    "[Green bond|Sustainability-linked bond|Social bond] issuance slowed to {money_bn} in {qtr}, as [higher rates and scrutiny of sustainability claims deterred some borrowers|companies worried about accusations of greenwashing|investor demand cooled].",
    "{co} is in talks with lenders to loosen the covenants on its {money_m} term loan after earnings fell short of the required levels{credit_tail}.",
    "Commercial real estate borrowers face about {money_bn} of maturing loans [this year|over the next 18 months], [rating agencies warned|according to {data_src}|analysts at {bank} estimate], with [office properties|older office buildings|suburban offices and malls] most at risk.",
    "Investors demanded a premium of about {bp} to buy the new bonds from {co}, compared with the yields on its existing debt.",
    "The average recovery rate on defaulted {recov_asset} has fallen to around {recovery_c} cents on the dollar, well below {recov_cmp}.",
    "{pe} agreed to provide {co} with a(n) {money_m} rescue loan carrying an interest rate of {pc_rate_pct}, according to a securities filing.",
    "{co} repaid its {money_m} term loan early using proceeds from an asset sale.",
]

TEMPLATES["mna"] = [
    "{deal.a} agreed to buy {deal.t} for {money_bn} in cash, or {share_px} a share, a premium of {prem} to its closing price on {weekday}.",
    "{pe} is nearing a deal to take {co} private in a transaction valued at about {money_bn} including debt{mna_tail}.",
    "Shares of {deal.a} jumped {pct_l} after {deal.t} disclosed a(n) {stake} stake and said it was exploring a possible takeover.",
    "Antitrust regulators in {reg_region} opened an in-depth investigation into {deal.a}'s proposed acquisition of {deal.t}, citing concerns about competition among {deal.t_plural}.",
    "The board of {deal.a} rejected an unsolicited offer from {deal.t}, saying the {money_bn} bid significantly undervalued the company and its prospects.",
    "{co} said it would spin off its {co.unit} business into a separately listed company, a move that activist investor {activist} had pushed for.",
    "The merger of {deal.a} and {deal.t} would create the {rank}-largest company of its kind in {region_m}, with combined annual sales of about {money_bn}.",
    "{deal.t} was advised by {bank} on the sale, while {bank2} served as financial adviser to {deal.a}.",
    "The acquisition of {deal.t} by {deal.a} is expected to close in the {half} of {year_future}, subject to shareholder and regulatory approvals.",
    "{deal.a} expects the acquisition of {deal.t} to generate annual cost savings of {money_m} within [three|two|four] years and to [boost earnings per share in the first full year|be accretive to earnings by {year_future}|lift its operating margin].",
    "Merger arbitrage funds have piled into {deal.t}, betting that its sale to {deal.a} will clear regulatory hurdles despite political opposition.",
    "Global M&A volumes rose {pct_m} in {qtr} to {money_tn}, driven by {mna_driver}, according to {mna_src}.",
    "{deal.a} walked away from its planned purchase of {deal.t} after failing to win approval from {reg_body}, and will pay a breakup fee of {money_m}.",
    "{activist} has built a stake in {co} and is pushing the {co.sector} to explore a sale of the entire company, according to a letter sent to the board.",
    "{deal.a} raised its offer for {deal.t} to {share_px} a share after a rival bidder emerged, setting the stage for a bidding war{mna_tail}.",
    "Under the terms of the all-stock deal, shareholders in {deal.t} will receive {ratio} shares of {deal.a} for each share they own.",
    "Private equity firms are sitting on about {money_tn} of unspent capital, and [bankers at {bank}|advisers|dealmakers] expect that money to fuel a pickup in [buyouts|take-private deals|acquisitions of family-owned businesses].",
    "{deal.a} completed its acquisition of {deal.t} on {weekday}, {months_after} months after the deal was announced, and said it would delist the target's shares.",
    "The European Commission cleared the takeover of {deal.t} by {deal.a} on condition that the buyer sells overlapping businesses in {eu_country} and {eu_country2}.",
    "{pe} agreed to sell {deal.a} to {deal.t} for {money_bn}, roughly {mult} what the buyout firm paid for the business in {year_past}.",
    "Talks between {deal.a} and {deal.t} over a merger of equals have stalled over who would run the combined company{mna_tail}.",
    "Investors in {deal.t} voted overwhelmingly in favor of the takeover by {deal.a}, with {approval} of votes cast supporting the deal at a special meeting.",
    "{co} is exploring strategic alternatives, including a possible sale, after receiving interest from several private equity firms, the company said on {weekday}.",
    "The offer from {deal.a} values {deal.t} at about {mult_ebitda} times its expected earnings before interest, taxes, depreciation and amortization for {year}.",
    "{deal.a} will fund the {funding.total} purchase of {deal.t} with cash on hand and about {funding.debt} of new debt, backed by a bridge loan from {bank}.",
    "Dealmaking in {region_m} has slowed as [higher interest rates made financing more expensive|valuation gaps between buyers and sellers persisted|regulators took a tougher line on large mergers], with the number of announced deals down {pct_m} this year.",
    "{deal.a} has agreed to buy {deal.t} for {money_bn} in cash and stock{mna_tail}.",
    "Shares of {deal.t} jumped {pct_l} in early trading after the deal was announced.",
    "{pe} agreed to buy a(n) {stake} stake in {co} for {money_m}.",
    "{deal.a} dropped its pursuit of {deal.t} on {weekday}, citing market volatility.",
    "The deal is the latest in a string of acquisitions by {deal.a}, which has spent more than {money_bn} over the past [five|six|several] years buying [smaller rivals|niche businesses|overseas competitors] as it tries to [offset slowing growth in its core markets|expand outside its home market|build scale in a fragmented industry].",
    # --- probe-only ---
    "{co} confirmed it had received a preliminary approach from {pe} but said there was no certainty that an offer would be made.",
    "{deal.t} agreed to sell its {deal.t_unit} unit to {deal.a} for {money_m}, as it seeks to simplify its portfolio and focus on its core markets.",
    "Shareholders of {deal.t} sued to block its sale to {deal.a}, alleging that the board had failed to seek a higher price from other potential buyers.",
    "The combined company will be led by {deal.a_short} chief executive {person}, while the chair of {deal.t} will become chair of the enlarged board.",
    "{deal.a} offered {share_px} a share in cash and stock for {deal.t}, valuing the {deal.t_sector} at roughly {money_bn} including net debt.",
    "Britain's Competition and Markets Authority said it would refer the takeover of {deal.t} by {deal.a} for an in-depth investigation unless the companies offered remedies.",
    "Bankers at {bank} said a recovery in initial public offerings would help private equity firms such as {pe} exit investments they have held for years.",
    "The takeover of {deal.t} by {deal.a} collapsed after the two sides failed to agree on how to handle the target's {liability}.",
    "{deal.a} said it had no plans to raise its offer for {deal.t}.",
]

# ---------------------------------------------------------------------------
# General-domain lexicons
# ---------------------------------------------------------------------------

US_CITIES = [
    "Denver",
    "Phoenix",
    "Chicago",
    "Dallas",
    "Kansas City",
    "Minneapolis",
    "Atlanta",
    "Nashville",
    "Sacramento",
    "Portland",
    "Boise",
    "Omaha",
    "Tulsa",
    "St. Louis",
    "Charlotte",
    "Salt Lake City",
    "Albuquerque",
    "Richmond",
    "Milwaukee",
    "Boston",
    "Houston",
    "Raleigh",
    "Spokane",
    "Louisville",
]
SOUTH_EU_CITIES = [
    "Seville",
    "Madrid",
    "Athens",
    "Rome",
    "Florence",
    "Lisbon",
    "Naples",
    "Marseille",
    "Valencia",
    "Palermo",
    "Cordoba",
    "Bologna",
]
EU_CITIES = [
    "Paris",
    "Berlin",
    "Vienna",
    "Prague",
    "Amsterdam",
    "Brussels",
    "Munich",
    "Warsaw",
    "Budapest",
    "Zurich",
    "Copenhagen",
    "Lyon",
    "Milan",
    "Dublin",
]
HOT_CITIES = [
    "Phoenix",
    "Dallas",
    "Houston",
    "Sacramento",
    "Tulsa",
    "Albuquerque",
    "Kansas City",
    "St. Louis",
    "Nashville",
    "Atlanta",
    "Richmond",
    "Raleigh",
    "Charlotte",
    "Louisville",
    "Boise",
]
COLD_CITIES = [
    "Minneapolis",
    "Chicago",
    "Milwaukee",
    "Omaha",
    "Denver",
    "Boise",
    "Spokane",
    "Boston",
    "Kansas City",
    "Salt Lake City",
    "Des Moines",
    "Buffalo",
    "Fargo",
]
ICE_CITIES = [
    "Dallas",
    "Tulsa",
    "Nashville",
    "Atlanta",
    "Louisville",
    "Richmond",
    "Raleigh",
    "Charlotte",
    "Kansas City",
    "St. Louis",
    "Oklahoma City",
    "Little Rock",
]
UK_TOWNS = [
    "Cornwall",
    "Cumbria",
    "north Wales",
    "the Scottish Highlands",
    "Devon",
    "Northern Ireland",
    "the Yorkshire Dales",
    "Pembrokeshire",
]

# Invented sports teams and people
SOCCER = [
    "Eastbrook United",
    "Real Valdera",
    "Sporting Lisbrook",
    "Harrowgate City",
    "FC Norden",
    "Atletico Solana",
    "Kingsford Rovers",
    "Dunmore Athletic",
    "Olympique Varenne",
    "Westmere Town",
    "Calderon CF",
    "Ashby Wanderers",
    "Inter Rovello",
    "Brockley Albion",
]
BASKETBALL = [
    "Lakeshore Comets",
    "Bayview Stingers",
    "Capital City Foxes",
    "Granite Peaks",
    "Mesa Rattlers",
    "Harbor City Anchors",
    "Prairie Storm",
    "Delta Herons",
    "Northshore Lynx",
    "Silver Valley Miners",
]
BASEBALL = [
    "River City Herons",
    "Desert Hawks",
    "Summit Bears",
    "Coastal Gulls",
    "Ironwood Lumberjacks",
    "Bay State Clippers",
    "Red Mesa Coyotes",
    "Capital Senators",
]
FOOTBALL = [
    "Bayou Gators",
    "Northern Huskies",
    "Redwood Rangers",
    "Gulf Coast Marlins",
    "Steel Valley Forge",
    "High Plains Stallions",
    "Lakeside Admirals",
    "Motor City Pistons",
]
STADIUMS = [
    "Kingsmead Park",
    "the Estadio Solana",
    "Riverside Stadium",
    "the Valdera Arena",
    "Harrow Lane",
    "the Norden Stadion",
    "Victoria Ground",
    "the Westmere Bowl",
]


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
    return (
        f"26:{r.randint(40, 59)}.{r.randint(0, 99):02d}"
        if r.random() < 0.5
        else f"27:{r.randint(0, 30):02d}.{r.randint(0, 99):02d}"
    )


SYMPHONIES = [
    ("Mahler", "Fifth"),
    ("Mahler", "Ninth"),
    ("Mahler", "Second"),
    ("Brahms", "Fourth"),
    ("Brahms", "First"),
    ("Beethoven", "Seventh"),
    ("Beethoven", "Third"),
    ("Sibelius", "Fifth"),
    ("Shostakovich", "Tenth"),
    ("Bruckner", "Eighth"),
    ("Dvorak", "Eighth"),
    ("Tchaikovsky", "Sixth"),
    ("Schubert", "Ninth"),
    ("Nielsen", "Fourth"),
]

ARTISTS = [
    "Ilse Marten",
    "Tomas Avery",
    "Rosa Quintana",
    "Jun Okabe",
    "Helena Voss",
    "Marcus Adeyemi",
    "Clara Bellweather",
    "Anton Reyes",
    "Noor Hadid",
    "Eliot Strand",
    "Sunniva Dahl",
    "Dario Campos",
    "Beatrix Holm",
    "Kofi Asante",
    "Vera Lindholm",
    "Paul Okoro",
    "Mira Castell",
]
BANDS = [
    "the Pale Orchards",
    "Northern Static",
    "Velvet Cartography",
    "the Glass Harbors",
    "Low Tide Parade",
    "Cinder & Lark",
    "the Midnight Ferries",
    "Paper Satellites",
    "Hollow Pines",
    "the Amber Lanterns",
    "Quiet Engines",
]
FILMS = [
    "The Salt Year",
    "A Map of Small Rooms",
    "Harvest Moon Motel",
    "The Last Lighthouse",
    "Borrowed Summers",
    "Under the Iron Bridge",
    "The Quiet Season",
    "Night Ferry",
    "Winter in Alvarado",
    "The Orchard Keeper's Daughter",
    "Far From the Shoreline",
]
NOVELS = [
    "The Weight of Rivers",
    "Letters from Harrow Street",
    "A House Made of Rain",
    "The Cartographer's Widow",
    "Small Hours",
    "The Glass Orchard",
    "North of Everything",
    "The Lantern Keepers",
    "What the Tide Left",
    "An Inventory of Birds",
    "The Summer of Paper Kites",
]
GALLERIES = [
    "the Halden Gallery",
    "the Mercer Contemporary",
    "the Northlight Gallery",
    "the Ostrava Kunsthalle",
    "the Bellweather Foundation",
    "Gallery Lumen",
    "the Fenwick Art Space",
]
MUSEUMS = [
    "the city's Museum of Modern Art",
    "the National Gallery",
    "the Fine Arts Museum",
    "the Harbourside Museum",
    "the Kunstmuseum",
    "the municipal art museum",
    "the Museum of Contemporary Art",
]
ORCHESTRAS = [
    "the Halden Philharmonic",
    "the City Symphony Orchestra",
    "the Northern Sinfonia",
    "the Valdera Chamber Orchestra",
    "the Lakeshore Symphony",
    "the Royal Harbour Philharmonic",
]
RESTAURANTS = [
    "Olive & Ember",
    "The Salt Cellar",
    "Casa Lumbre",
    "Bistro Margaux",
    "Little Fig",
    "Kettle & Crane",
    "Osteria Nonna Pia",
    "The Copper Pot",
    "Saffron Lane",
    "Marrow",
    "Tavola Verde",
    "Hearth & Hound",
    "Noodle Yard",
    "Juniper Table",
    "El Fogon Azul",
    "Sora Izakaya",
]
FOOD_CITIES = [
    "Chicago",
    "Portland",
    "Austin",
    "Philadelphia",
    "Melbourne",
    "Toronto",
    "Lisbon",
    "Copenhagen",
    "Mexico City",
    "Seattle",
    "Manchester",
    "Montreal",
    "New Orleans",
    "Barcelona",
    "Denver",
]
AIRLINES = [
    "Aurelia Air",
    "Northwind Airways",
    "Solara Airlines",
    "Meridia",
    "Pacifica Air",
    "Baltic Wings",
    "Caribe Sky",
    "Alpenjet",
]
HUBS = ["London", "Frankfurt", "Chicago", "Toronto", "Dubai", "Singapore", "Madrid", "New York", "Amsterdam", "Atlanta"]
DESTS = [
    "Lisbon",
    "Kyoto",
    "Porto",
    "Dubrovnik",
    "Cartagena",
    "Hoi An",
    "Oaxaca",
    "Seville",
    "Edinburgh",
    "Tbilisi",
    "Valletta",
    "Ljubljana",
    "Bruges",
    "Krakow",
    "Chiang Mai",
    "Cusco",
    "Marrakech",
    "Tallinn",
]
AIRPORTS = [
    "Heathrow",
    "Schiphol",
    "Frankfurt Airport",
    "Chicago O'Hare",
    "Newark Liberty",
    "Dublin Airport",
    "Toronto Pearson",
    "Madrid-Barajas",
]

S.update(
    {
        # --- lexical variety for otherwise number-only templates
        "housing_metric": [
            "Housing starts",
            "Single-family housing starts",
            "Building permits",
            "Groundbreaking on new homes",
        ],
        "housing_reason": [
            "high mortgage rates weighed on builders",
            "builders grappled with higher material costs",
            "a glut of unsold new homes deterred construction",
            "bad weather delayed projects in the South",
            "tighter lending standards made financing harder to obtain",
        ],
        "tdef": [
            {"adj": "U.S.", "cur": "$"},
            {"adj": "British", "cur": "£"},
            {"adj": "French", "cur": "€"},
            {"adj": "Indian", "cur": "$"},
            {"adj": "Canadian", "cur": "C$"},
        ],
        "bn_num": lambda r: f"{r.uniform(2.0, 78.0):.1f}",
        "trade_reason": [
            "imports of consumer goods outpaced a modest rise in exports",
            "a surge in imports of industrial supplies",
            "exports of aircraft and vehicles fell",
            "companies stocked up ahead of expected tariffs",
            "energy imports rose",
        ],
        "dollar_reason": [
            "bet on earlier Fed rate cuts",
            "digested mixed economic data",
            "awaited the monthly jobs report",
            "trimmed long positions before the weekend",
            "weighed comments from Fed officials",
        ],
        "fxo": lambda r: r.choice(
            [
                f"the euro climbed to ${r.uniform(1.04, 1.16):.4f}",
                f"sterling rose to ${r.uniform(1.22, 1.34):.4f}",
                f"the yen strengthened to {r.uniform(140, 158):.2f} per dollar",
                f"the Swiss franc firmed to {r.uniform(0.84, 0.92):.4f} per dollar",
            ]
        ),
        "nikkei_reason": [
            "helped by a weaker yen that brightened the outlook for exporters",
            "led by gains in chip-equipment makers",
            "as trading houses rallied",
            "as bank stocks rose on expectations of higher interest rates",
            "with automakers leading the advance",
        ],
        "us_cpi": [
            "U.S. consumer prices",
            "The U.S. consumer price index",
            "Core consumer prices in the United States",
        ],
        "vs_fcst": [
            "slightly above economists' forecasts",
            "in line with expectations",
            "a touch below forecasts",
            "the smallest annual increase since {year_past}",
            "complicating the Fed's plans",
        ],
        "fund_kind": [
            "U.S. equity funds",
            "bond funds",
            "emerging market funds",
            "money market funds",
            "European equity funds",
            "technology funds",
        ],
        "flow_src": ["EPFR data", "LSEG Lipper", "data from the Investment Company Institute"],
        "fomc_doc": [
            "the Fed's updated projections",
            "the Fed's quarterly economic forecasts",
            "the Fed chair's news conference",
            "minutes of the Fed's last meeting",
        ],
        "fomc_clue": [
            "how many rate cuts officials expect in {year}",
            "the timing of the first rate cut",
            "how long rates will stay high",
            "the long-run level of interest rates",
            "how officials view the recent rise in unemployment",
        ],
        "spread_mkt": [
            "U.S. high-yield bonds",
            "European junk bonds",
            "emerging market corporate bonds",
            "triple-B corporate bonds",
            "leveraged loans",
        ],
        "spread_reason": [
            "as investors grew wary of a slowdown",
            "after a string of defaults in the retail sector",
            "as heavy new supply swamped demand",
            "as equity markets sold off",
        ],
        "dep_group": [
            "small and regional lenders",
            "mid-sized banks",
            "community banks",
            "banks outside the largest 25",
        ],
        "dep_fear": [
            "another wave of withdrawals",
            "a renewed run on uninsured deposits",
            "further pressure on bank funding",
            "a fresh round of bank failures",
        ],
        "claims_dir": [
            {"dir": "fell", "msg": "suggesting the labor market remains resilient"},
            {"dir": "rose", "msg": "a sign that layoffs may be picking up"},
            {"dir": "fell", "msg": "the lowest level in several weeks"},
            {"dir": "rose", "msg": "though economists said seasonal factors distorted the data"},
        ],
        "rs_help": [
            "strong auto sales",
            "higher spending at restaurants and bars",
            "a jump in online purchases",
            "brisk sales of electronics",
            "higher gasoline prices",
        ],
        "jolts_msg": [
            "demand for workers is gradually cooling",
            "the labor market is loosening",
            "employers are growing more cautious about hiring",
            "fewer workers are quitting their jobs",
        ],
        "mm_dest": [
            "money market funds",
            "Treasury bills",
            "high-yield savings accounts at online banks",
            "certificates of deposit",
        ],
        "china_imp": [
            "fell as domestic demand remained sluggish",
            "were weaker than expected",
            "grew only modestly",
            "shrank for a(n) {ordinal} month",
        ],
        "fxm": [
            {"name": "Australian dollar", "lvl": "{aud}", "cb": "the Reserve Bank of Australia"},
            {"name": "New Zealand dollar", "lvl": "{nzd}", "cb": "the Reserve Bank of New Zealand"},
            {"name": "Canadian dollar", "lvl": "{cad} per U.S. dollar", "cb": "the Bank of Canada"},
            {"name": "Norwegian crown", "lvl": "{nok} per dollar", "cb": "Norges Bank"},
            {"name": "Swedish crown", "lvl": "{sek} per euro", "cb": "the Riksbank"},
        ],
        "fxm_msg": [
            "rates would stay on hold for longer than markets had priced",
            "further rate cuts were likely this year",
            "it was in no hurry to tighten policy",
            "the easing cycle could go further than expected",
        ],
        "nzd": lambda r: f"{r.uniform(56, 62):.2f} U.S. cents",
        "cad": lambda r: f"{r.uniform(1.33, 1.42):.4f}",
        "nok": lambda r: f"{r.uniform(10.2, 11.3):.2f}",
        "sek": lambda r: f"{r.uniform(10.9, 11.8):.2f}",
        "asia_idx": [
            "Hong Kong's Hang Seng index",
            "China's CSI 300 index",
            "Taiwan's Taiex",
            "South Korea's Kospi",
            "the Hang Seng Tech index",
        ],
        "asia_reason": [
            "as property developers sold off on concerns about refinancing",
            "as technology stocks slumped on fears of tighter regulation",
            "after weaker-than-expected factory data",
            "as foreign investors pulled money out of the region",
            "after a sharp drop in shares of chip suppliers",
        ],
        "capex_driver": [
            "spending on software and equipment",
            "investment in data centers",
            "purchases of transport equipment",
            "spending on research and development",
            "a rush to install factory automation",
        ],
        "crypto": [
            {"name": "Bitcoin", "lvl": "{btc}"},
            {"name": "Ether", "lvl": "{eth}"},
            {"name": "Solana", "lvl": "{sol}"},
        ],
        "eth": lambda r: f"${r.randrange(1800, 4000, 100):,}",
        "sol": lambda r: f"${r.randrange(90, 240, 10)}",
        "crypto_reason": [
            "",
            "as risk appetite faded",
            "after a large exchange halted withdrawals",
            "amid heavy outflows from exchange-traded funds",
            "as regulators stepped up scrutiny of the industry",
        ],
        "rb_reason": [
            "amid renewed worries about commercial real estate exposure",
            "after a mid-sized lender reported a jump in bad loans",
            "as deposit costs continued to climb",
            "after regulators signaled tougher capital rules for mid-sized banks",
        ],
        "crude": ["Brent crude", "U.S. West Texas Intermediate crude", "Brent"],
        "oil_neg": [
            "data showed an unexpected build in U.S. inventories",
            "OPEC+ signaled it would raise output",
            "weak Chinese import data",
            "a ceasefire eased concerns about supply disruptions",
            "forecasters cut their estimates for global demand",
        ],
        "bbb_issuers": ["Companies", "U.S. companies", "European issuers", "Borrowers"],
        "mat_when": ["next year", "over the next two years", "in {year_future}", "through {year_future}"],
        "updown": ["up", "down"],
        "nas_move": ["ended little changed", "slipped {pct_tiny}", "added {pct_tiny}", "finished flat"],
        "mna_driver": [
            "a revival in large deals in technology and energy",
            "a wave of consolidation among drugmakers",
            "a rebound in private equity buyouts",
            "a string of cross-border deals in Asia",
            "megadeals in the oil and gas industry",
        ],
        "mna_src": ["Dealogic", "LSEG data", "data from PitchBook"],
        "grain": [
            {"name": "Wheat", "px": "{wheat}"},
            {"name": "Corn", "px": "{corn}"},
            {"name": "Soybean", "px": "{soy}"},
        ],
        "corn": lambda r: f"${r.uniform(3.9, 5.1):.2f}",
        "soy": lambda r: f"${r.uniform(9.8, 12.9):.2f}",
        "grain_reason": [
            "dry weather in key growing regions threatened yields",
            "the Agriculture Department cut its estimate of U.S. stockpiles",
            "strong export sales to China",
            "heavy rain delayed planting across the Midwest",
            "a drought in South America hurt the harvest outlook",
        ],
        "tech_reason": [
            "as investors rotated out of richly valued chipmakers and software names",
            "after a disappointing forecast from a major chip designer",
            "as rising bond yields pressured high-growth stocks",
            "amid doubts about the payoff from heavy spending on artificial intelligence",
        ],
        "imf": ["The International Monetary Fund", "The World Bank", "The OECD"],
        "global_risk": [
            "trade tensions and high debt",
            "rising protectionism",
            "a sharper slowdown in China",
            "persistent inflation and high interest rates",
            "conflict in the Middle East and higher energy prices",
        ],
        "eu_banks": [
            "European bank shares",
            "Italian bank stocks",
            "Spanish lenders",
            "Shares of euro zone banks",
            "German bank stocks",
        ],
        "pmi_area": ["the euro zone", "Germany", "France", "Britain", "Italy", "Japan"],
        "mort": [
            {"apps": "fell", "rate": "rose"},
            {"apps": "dropped", "rate": "climbed"},
            {"apps": "rose", "rate": "eased"},
            {"apps": "increased", "rate": "fell"},
        ],
        "mort_src": [
            "the Mortgage Bankers Association said",
            "according to the Mortgage Bankers Association",
            "data from the Mortgage Bankers Association showed",
        ],
        "drug_kind": [
            "experimental antibody drug",
            "new drug",
            "monthly injection",
            "once-daily pill",
            "drug given by infusion",
        ],
        "side_effect": [
            "side effects included swelling in the brain",
            "about one in eight patients reported headaches",
            "some patients dropped out because of infusion reactions",
            "the benefit was smaller in older patients",
        ],
        "volcano": [
            "Iceland's Reykjanes Peninsula",
            "the island of Hawaii",
            "the slopes of Mount Etna",
            "the Kamchatka Peninsula",
            "the Canary Island of La Palma",
            "the North Island of New Zealand",
        ],
        "volcano_action": [
            "raise the alert level and close nearby trails",
            "evacuate several villages near the summit",
            "close the airspace above the mountain",
            "raise the alert level and ban visits to the crater",
        ],
        "ai": [
            {"input": "retinal images", "task": "predict heart disease risk", "baseline": "standard blood tests"},
            {
                "input": "chest X-rays",
                "task": "spot early signs of lung cancer",
                "baseline": "experienced radiologists",
            },
            {"input": "heart scans", "task": "identify patients at risk of heart failure", "baseline": "cardiologists"},
            {
                "input": "skin photographs",
                "task": "distinguish melanoma from harmless moles",
                "baseline": "dermatologists",
            },
            {
                "input": "voice recordings",
                "task": "detect early Parkinson's disease",
                "baseline": "a neurological exam",
            },
        ],
        "fx_ccy": ["yen", "Swiss franc", "euro", "pound", "Chinese yuan"],
        "asset_flat": ["gold", "oil", "the euro", "Bitcoin"],
        "metal": [
            {"name": "Copper", "supply": "supply disruptions in Chile"},
            {"name": "Aluminum", "supply": "power shortages at smelters in China"},
            {"name": "Nickel", "supply": "export curbs in Indonesia"},
            {"name": "Zinc", "supply": "mine closures in Europe"},
            {"name": "Tin", "supply": "a halt to mining in Myanmar"},
        ],
        "metal_demand": [
            "signs of stronger Chinese demand",
            "a weaker dollar",
            "hopes for more stimulus in China",
            "falling warehouse stocks",
        ],
        "pass_country": ["in the United States", "in Britain", "in Canada", "in Australia", "in Ireland"],
        "trip_kind": ["international trip", "summer vacation abroad", "planned trip overseas"],
        "gold_reason": [
            "a weaker dollar and geopolitical jitters drove demand for safe-haven assets",
            "central banks continued to add to their reserves",
            "falling bond yields made non-interest-bearing assets more attractive",
            "investors sought protection against inflation",
        ],
        "recov_asset": [
            "first-lien loans",
            "second-lien loans",
            "unsecured bonds",
            "senior secured bonds",
            "leveraged loans",
        ],
        "recov_cmp": [
            "the long-term average",
            "levels seen in previous downturns",
            "what most investors had assumed",
            "the average of the past two decades",
        ],
        "fires_n": integer(20, 90, 5),
        "street_name": [
            "Elm Street",
            "Rue Oberkampf",
            "Calle Ancha",
            "Mill Road",
            "Harbor Street",
            "Via Roma",
            "Oak Avenue",
        ],
        "view_where": [
            "from dark locations",
            "across the Northern Hemisphere",
            "low on the western horizon after sunset",
            "in the hours before dawn",
            "from the Southern Hemisphere",
        ],
        "fog_effect": [
            "prompting officials to lower speed limits and delay school buses",
            "contributing to a pileup involving more than a dozen vehicles",
            "snarling the morning commute for hours",
            "forcing state police to escort traffic through the worst stretches",
        ],
        "mp_sample": ["human tissue", "placenta", "bottled water", "human blood", "sea salt", "lung tissue"],
        # ---------------- weather
        "uscity": US_CITIES,
        "hot_city": HOT_CITIES,
        "cold_city": COLD_CITIES,
        "ice_city": ICE_CITIES,
        "seucity": SOUTH_EU_CITIES,
        "eucity": EU_CITIES,
        "uk_area": UK_TOWNS,
        "region_us": [
            "the Upper Midwest",
            "the Gulf Coast",
            "New England",
            "the Pacific Northwest",
            "the southern Plains",
            "the Ohio Valley",
            "the Mid-Atlantic",
            "the northern Rockies",
            "the Great Lakes region",
            "the Southeast",
        ],
        "hot_f": integer(97, 114),
        "cold_f": lambda r: r.choice(["minus ", ""]) + str(r.randint(2, 15)) + " degrees",
        "hot_c": lambda r: f"{r.randint(40, 46)}.{r.randint(0, 9)} degrees Celsius",
        "snow_in": lambda r: (
            r.choice(["6 to 10", "8 to 12", "10 to 14", "12 to 18", "4 to 8", "a foot or more", "up to 20"]) + " inches"
        ),
        "rain_in": lambda r: r.choice(["two", "three", "four", "five", "six"]) + " inches",
        "wind_mph": lambda r: f"{r.randrange(50, 85, 5)} mph",
        "storm_name": [
            "Tropical Storm Marisol",
            "Tropical Storm Dorian",
            "Tropical Storm Keona",
            "Tropical Storm Lorenzo",
            "Tropical Storm Priya",
            "Tropical Storm Emilio",
            "Tropical Storm Imelda",
            "Tropical Storm Rafael",
        ],
        "hurricane": [
            "Hurricane Marisol",
            "Hurricane Lorenzo",
            "Hurricane Keona",
            "Hurricane Emilio",
            "Hurricane Odalys",
            "Hurricane Tobias",
        ],
        "cat": ["2", "3", "4"],
        "days": next_day,
        "farm_region": [
            "western Kansas",
            "the Texas Panhandle",
            "central Nebraska",
            "eastern Colorado",
            "the San Joaquin Valley",
            "southern Saskatchewan",
        ],
        "highway": [
            "Interstate 5",
            "Interstate 80",
            "Interstate 95",
            "Interstate 70",
            "the New Jersey Turnpike",
            "Interstate 10",
        ],
        "year_old": [str(y) for y in range(1947, 2004, 3)],
        "fire_region": ["Canada", "northern Quebec", "Alberta", "British Columbia"],
        "ice_in": ["a quarter inch", "half an inch", "three-quarters of an inch"],
        "country_w": ["India", "Bangladesh", "Nepal", "the Philippines", "Sri Lanka", "Vietnam"],
        "rank_w": ["second", "third", "fourth", "fifth", "sixth"],
        "anom_f": lambda r: f"{r.randint(4, 9)} degrees",
        "mtn_region": [
            "the northern Rockies",
            "the Sierra Nevada",
            "western Montana",
            "the Cascades",
            "central Idaho",
            "the Wasatch Mountains",
        ],
        "torn_mph": lambda r: f"{r.randrange(110, 170, 5)} mph",
        "small_town": [
            "Haskell Creek, Oklahoma",
            "Marlow Springs, Kansas",
            "Cedar Bend, Iowa",
            "Pruitt, Arkansas",
            "Willow Flats, Nebraska",
            "Dalton Ridge, Missouri",
            "Hollins, Mississippi",
        ],
        "ski_region": [
            "the Colorado Rockies",
            "the Sierra Nevada",
            "northern Vermont",
            "the Wasatch Range",
            "the Lake Tahoe resorts",
            "the White Mountains",
        ],
        "coast": [
            "Jersey Shore",
            "South Carolina coast",
            "Outer Banks",
            "Massachusetts coast",
            "Texas coast",
            "Florida Panhandle",
        ],
        "hail": ["golf balls", "ping-pong balls", "walnuts", "quarters", "hen's eggs"],
        "days_dry": integer(38, 74),
        "uk_storm": ["Storm Gideon", "Storm Maelle", "Storm Oriel", "Storm Bronagh", "Storm Tavish", "Storm Ysolde"],
        "wind_uk": lambda r: f"{r.randrange(60, 95, 5)} mph",
        "season": ["spring", "summer", "autumn", "winter"],
        "tens": ["low 70s", "mid-60s", "upper 70s", "low 80s", "mid-50s", "upper 60s"],
        "drop_f": integer(25, 45),
        "speed_mph": lambda r: f"{r.randint(8, 18)} mph",
        "west_city": ["Los Angeles", "San Diego", "Santa Barbara", "Sacramento", "Ventura", "Santa Rosa", "Reno"],
        "west_region": [
            "northern California",
            "eastern Oregon",
            "central Washington",
            "the Nevada high desert",
            "southern Idaho",
        ],
        "wx_tail": maybe(
            0.3, [", according to the National Weather Service", ", forecasters said", ", local officials said"]
        ),
        # ---------------- sports
        "soccer": SOCCER,
        "bball": BASKETBALL,
        "baseball": BASEBALL,
        "football": FOOTBALL,
        "stadium": STADIUMS,
        "player": man,
        "pwoman": woman,
        "soc": score(4, min_w=1),
        "soc_win": score(4, min_w=2),
        "bb": bball_score,
        "base": score(9, min_w=2),
        "minute": lambda r: ordinal_suffix(r.randint(72, 90)),
        "deficit": integer(11, 22),
        "streak_n": word_int(3, 7),
        "hours_t": ["four", "four and a half", "five"],
        "seed": ["top", "second", "third", "fourth", "fifth", "seventh"],
        "slam_city": ["Melbourne", "Paris", "New York", "London"],
        "k": integer(8, 12),
        "lg": losses_games,
        "contract_years": word_int(3, 5),
        "contract_m": lambda r: f"${r.randrange(120, 260, 5)} million",
        "runner_country": ["Kenya", "Ethiopia", "Uganda", "Eritrea", "Japan", "Morocco"],
        "mtime": marathon_time,
        "marathon_city": ["Berlin", "Chicago", "Valencia", "Rotterdam", "Tokyo", "Amsterdam", "Seoul"],
        "climb_km": integer(9, 21),
        "weeks_inj": word_int(3, 10),
        "pts": integer(31, 52),
        "threes": word_int(5, 10),
        "cricket_nation": [
            "England",
            "India",
            "Australia",
            "South Africa",
            "New Zealand",
            "Pakistan",
            "Sri Lanka",
            "the West Indies",
        ],
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
        "age_vet": integer(24, 41),
        "ga": goals_apps,
        "soc_nation": [
            "Norway",
            "Portugal",
            "Colombia",
            "Japan",
            "Nigeria",
            "Canada",
            "Ireland",
            "Iceland",
            "Chile",
            "Denmark",
        ],
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
        "ten_k_time": time_10k,
        "hr_ft": integer(455, 498),
        "sport_tail": maybe(
            0.25, [", the club said in a statement", ", according to local reports", ", the team confirmed"]
        ),
        # ---------------- science
        "inst": [
            "the University of Northmoor",
            "the Halden Institute of Technology",
            "the University of Edinburgh",
            "a university in Zurich",
            "Kyoto University",
            "the Max Planck Society",
            "the University of Cape Town",
            "ETH Zurich",
            "the University of Queensland",
            "the Marston Institute",
            "McGill University",
            "the University of Copenhagen",
            "Caltech",
        ],
        "journal": [
            "Nature",
            "Science",
            "Nature Communications",
            "Current Biology",
            "the Proceedings of the National Academy of Sciences",
            "Science Advances",
        ],
        "journal_med": ["The Lancet", "JAMA", "the New England Journal of Medicine", "The BMJ", "Nature Medicine"],
        "scientist": person,
        "taxon": [
            "tree frog",
            "salamander",
            "orchid",
            "gecko",
            "hummingbird",
            "freshwater crab",
            "leaf-nosed bat",
            "dung beetle",
            "pit viper",
        ],
        "bio_region": [
            "Ecuador",
            "Borneo",
            "Madagascar",
            "Papua New Guinea",
            "Peru",
            "northern Vietnam",
            "Colombia",
            "Gabon",
        ],
        "molecule": ["water vapor", "carbon dioxide", "methane", "sulfur dioxide", "carbon monoxide"],
        "ly": integer(30, 900, 10),
        "pct_sci": pct(14, 48, 0),
        "condition": ["type 2 diabetes", "heart disease", "dementia", "depression", "stroke", "high blood pressure"],
        "years_f": integer(8, 25),
        "robot": [
            "soft, octopus-inspired",
            "insect-sized",
            "four-legged",
            "jellyfish-like",
            "snake-shaped",
            "two-armed",
        ],
        "robot_ability": [
            "grip fragile objects such as ripe fruit without bruising them",
            "climb stairs and open doors on its own",
            "swim through narrow underwater pipes to inspect them for cracks",
            "sort mixed recycling faster than a trained worker",
            "walk over loose sand and rubble",
        ],
        "n_samples": integer(90, 480),
        "site_region": [
            "the Balkans",
            "central Anatolia",
            "southern Iberia",
            "the Danube valley",
            "the Russian steppe",
            "northern Scotland",
        ],
        "ice_region": ["Antarctica", "Greenland", "East Antarctica", "the Antarctic interior"],
        "q_time": ["more than a second", "nearly two minutes", "about half a second", "almost an hour"],
        "fossil_region": [
            "Patagonia",
            "the Gobi Desert",
            "Montana",
            "northern Spain",
            "the Isle of Wight",
            "Alberta",
            "Inner Mongolia",
        ],
        "dino": [
            "small, feathered",
            "long-necked, plant-eating",
            "heavily armored",
            "crested, duck-billed",
            "fast-running, meat-eating",
        ],
        "mya": integer(68, 190),
        "trial_n": integer(120, 2400, 10),
        "trial_n_small": integer(9, 44),
        "disease": [
            "malaria",
            "tuberculosis",
            "dengue fever",
            "respiratory syncytial virus",
            "Lyme disease",
            "norovirus",
        ],
        "pct_drop": pct(18, 41, 0),
        "n_animals": integer(24, 160),
        "marine": [
            "leatherback turtles",
            "blue sharks",
            "humpback whales",
            "manta rays",
            "bluefin tuna",
            "elephant seals",
        ],
        "sci_coast": ["Costa Rica", "South Africa", "Western Australia", "Portugal", "Baja California", "Mozambique"],
        "planet": [
            "Jupiter's moon Europa",
            "Saturn's moon Titan",
            "Mercury",
            "Jupiter's moon Ganymede",
            "the asteroid Psyche",
        ],
        "n_images": lambda r: f"{r.randrange(40, 400, 10):,},000",
        "battery_mat": [
            "sodium and iron",
            "sulfur and aluminum",
            "zinc and manganese",
            "wood-derived carbon",
            "abundant iron salts",
        ],
        "pct_ret": pct(82, 97, 0),
        "cycles": integer(1000, 20000, 500),
        "n_lakes": integer(120, 900, 10),
        "lake_region": [
            "North America and Europe",
            "Scandinavia",
            "the northeastern United States",
            "Canada",
            "central Europe",
        ],
        "neurons": lambda r: f"{r.randrange(50, 140, 5)},000",
        "comet_yrs": integer(2500, 80000, 500),
        "pct_found": pct(61, 96, 0),
        "team_n": integer(40, 220),
        "mammal": ["mountain gorilla", "snow leopard", "Iberian lynx", "black rhino", "giant otter", "Ethiopian wolf"],
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
        "outcome": ["the risk of fractures", "cognitive decline", "cold and flu symptoms", "blood pressure", "mood"],
        "gly": word_int(5, 9),
        "core_m": integer(2400, 2900, 50),
        "social_mammal": ["elephants", "marmosets", "bottlenose dolphins", "sperm whales", "spotted hyenas"],
        "chile_site": ["the Chilean Andes", "Chile's Atacama Desert", "northern Chile"],
        "sci_tail": maybe(0.3, [", the researchers said", ", according to the study", ", the authors wrote"]),
        # ---------------- food
        "restaurant": RESTAURANTS,
        "fcity": FOOD_CITIES,
        "chef": chef,
        "dish": [
            "braised short ribs",
            "miso-glazed black cod",
            "cacio e pepe",
            "lamb tagine",
            "duck confit",
            "charred octopus",
            "mushroom risotto",
            "pork belly bao",
            "smoked brisket",
            "saffron paella",
            "chicken mole",
            "crab linguine",
        ],
        "side": [
            "crispy smashed potatoes",
            "a sharp fennel salad",
            "buttered flatbread",
            "pickled red onions",
            "grilled spring onions",
            "a bowl of jasmine rice",
        ],
        "home_dish": ["French onion soup", "caramelized onion tart", "risotto", "beef stew", "tomato sauce", "dal"],
        "slow_ing": ["onions", "shallots", "garlic", "tomato paste", "leeks"],
        "quick_dish": [
            "lemony chickpea pasta",
            "sheet-pan chicken with olives",
            "garlicky shrimp with white beans",
            "spicy peanut noodles",
            "tomato and egg stir-fry",
            "black bean tacos",
        ],
        "mins_cook": ["20", "25", "30", "35"],
        "pantry": [
            "canned tomatoes",
            "capers",
            "anchovies",
            "dried chili flakes",
            "garlic",
            "chickpeas",
            "soy sauce",
            "smoked paprika",
            "frozen peas",
            "parmesan",
        ],
        "cuisine": [
            "Georgian",
            "Sichuan",
            "Oaxacan",
            "Sri Lankan",
            "Lebanese",
            "Basque",
            "Filipino",
            "Ethiopian",
            "Peruvian",
            "Vietnamese",
            "Korean",
            "Sicilian",
        ],
        "produce": ["peach", "strawberry", "melon", "plum", "cherry", "apricot", "tomato"],
        "price_menu": lambda r: f"${r.randrange(85, 265, 5)}",
        "courses": word_int(5, 12),
        "starter": [
            "a single oyster with green apple",
            "a warm gougere",
            "chilled pea soup",
            "a spoonful of trout roe on a potato crisp",
            "a tiny beet tartlet",
        ],
        "dessert": [
            "a brown butter madeleine",
            "a sour cherry sorbet",
            "a chocolate tart with sea salt",
            "a bay leaf panna cotta",
            "honey ice cream with toasted oats",
        ],
        "n_recipes": integer(60, 140),
        "hometown": [
            "Tbilisi",
            "Manila",
            "Beirut",
            "Lima",
            "Puebla",
            "Colombo",
            "Palermo",
            "Addis Ababa",
            "Hue",
            "Busan",
        ],
        "oven_temp": ["450", "475", "500"],
        "mins_short": ["15", "20", "30"],
        "dough": ["pizza dough", "cornbread batter", "dutch baby batter", "focaccia dough"],
        "pastry": [
            "almond croissants",
            "cardamom buns",
            "sourdough loaves",
            "canneles",
            "cinnamon rolls",
            "pain au chocolat",
        ],
        "open_time": ["7 a.m.", "7:30 a.m.", "8 a.m.", "6:30 a.m."],
        "soup": ["pho", "ramen", "chicken soup", "pozole", "laksa", "beef noodle soup"],
        "price_cheap": lambda r: f"${r.randint(9, 16)}",
        "hours_cook": word_int(6, 18),
        "trend": [
            "small plates meant for sharing",
            "fermented vegetables and house-made pickles",
            "wood-fired cooking",
            "nonalcoholic cocktails",
            "fixed-price lunch menus",
            "vegetable-forward tasting menus",
        ],
        "acid": ["red wine vinegar", "fresh lemon juice", "sherry vinegar", "lime juice"],
        "mustard": ["Dijon mustard", "whole-grain mustard", "honey", "miso"],
        "old_building": ["firehouse", "textile mill", "bank branch", "train depot", "print shop"],
        "praise_adj": [
            "glossy and deeply savory",
            "bright and balanced",
            "rich without being heavy",
            "smoky and complex",
        ],
        "holiday_food": [
            {"region": "Oaxaca", "dish": "mole negro", "occasion": "the Day of the Dead"},
            {"region": "Sicily", "dish": "cassata", "occasion": "Easter"},
            {"region": "southern Italy", "dish": "seven kinds of fish", "occasion": "Christmas Eve"},
            {"region": "Catalonia", "dish": "grilled calcots", "occasion": "late-winter festivals"},
            {"region": "northern Vietnam", "dish": "banh chung", "occasion": "Lunar New Year"},
            {"region": "Georgia", "dish": "khachapuri", "occasion": "family celebrations"},
            {"region": "Kerala", "dish": "a banana-leaf sadya", "occasion": "the harvest festival of Onam"},
            {"region": "Provence", "dish": "the thirteen desserts", "occasion": "Christmas"},
        ],
        "herb": ["cilantro", "parsley", "mint", "dill", "tarragon"],
        "days_fresh": word_int(7, 14),
        "stalls": integer(14, 40),
        "street_food": [
            "grilled skewers",
            "hand-pulled noodles",
            "fried chicken sandwiches",
            "steamed dumplings",
            "tacos al pastor",
            "falafel wraps",
            "arepas",
            "crispy pork buns",
            "paneer rolls",
        ],
        "veg": ["cauliflower", "broccoli", "carrots", "Brussels sprouts", "cabbage", "squash"],
        "finish": [
            "a squeeze of lemon",
            "a spoonful of salsa verde",
            "a drizzle of chili crisp",
            "toasted hazelnuts and a splash of vinegar",
            "fresh herbs and yogurt",
        ],
        "coffee_origin": ["Ethiopia", "Colombia", "Kenya", "Guatemala", "Rwanda", "Yemen"],
        "price_coffee": ["$6", "$7", "$8", "$9"],
        "chili_teams": integer(30, 90),
        "chili_ing": [
            "smoked ancho chilies and dark beer",
            "ground beef and cocoa powder",
            "roasted Hatch chilies",
            "brisket trimmings and coffee",
            "three kinds of dried chilies",
        ],
        "fried_dish": ["fried rice", "kimchi fried rice", "nasi goreng", "arroz chaufa"],
        "fry_add": ["scallions", "a fried egg", "leftover roast pork", "frozen peas", "chopped kimchi", "diced ham"],
        "cake_layer": ["sponge", "almond cake", "chiffon", "brown butter cake", "pistachio cake"],
        "cake_fill": [
            "passion fruit curd",
            "whipped mascarpone",
            "roasted strawberries",
            "salted caramel",
            "black sesame cream",
        ],
        "staple": ["olive oil", "cocoa", "eggs", "coffee beans", "beef", "butter"],
        "wine": ["Albarino", "Chenin Blanc", "Gamay", "Riesling", "Nebbiolo", "rose"],
        "pairing": [
            "grilled fish",
            "roast chicken",
            "spicy noodle dishes",
            "a cheese board",
            "mushroom risotto",
            "pork chops",
        ],
        "n_new": word_int(3, 7),
        "protein": ["chicken thighs", "mushrooms", "scallops", "beef", "tofu", "pork chops"],
        "local_ing": ["heirloom vegetables", "wild mushrooms", "line-caught fish", "heritage grains", "foraged greens"],
        "miles": integer(20, 100, 5),
        "beans": ["chickpeas", "black beans", "cannellini beans", "pinto beans", "borlotti beans"],
        "aromatics": [
            "a bay leaf and a halved onion",
            "garlic and a sprig of sage",
            "a strip of kombu",
            "onion, carrot and celery",
        ],
        "park_place": ["public library", "courthouse", "university hospital", "old train station"],
        "sauce": ["green salsa", "chili oil", "garlic sauce", "hot sauce", "peanut sauce"],
        "fix": [
            {"dish": "scrambled eggs", "ing": "salt", "tex": "watery"},
            {"dish": "macaroni and cheese", "ing": "cheese", "tex": "grainy"},
            {"dish": "a pan sauce", "ing": "butter", "tex": "greasy"},
            {"dish": "a pot of beans", "ing": "tomatoes", "tex": "tough"},
            {"dish": "a cream soup", "ing": "cream", "tex": "curdled"},
            {"dish": "stir-fried greens", "ing": "soy sauce", "tex": "soggy"},
        ],
        "flavor": [
            "black sesame",
            "olive oil",
            "sweet corn",
            "miso caramel",
            "ube",
            "fig-goat cheese",
            "roasted rice",
            "sour cherry basil",
            "brown bread",
        ],
        "course_len": word_int(4, 10),
        "skill": [
            "French pastry",
            "knife skills",
            "bread baking",
            "fresh pasta",
            "regional Chinese cooking",
            "fermentation",
        ],
        "class_n": word_int(8, 12),
        "bakery": [
            {"cuisine": "Polish", "bread": "rye bread"},
            {"cuisine": "Jewish", "bread": "challah"},
            {"cuisine": "Lebanese", "bread": "pita"},
            {"cuisine": "French", "bread": "baguettes"},
            {"cuisine": "Italian", "bread": "focaccia"},
            {"cuisine": "German", "bread": "pretzels"},
            {"cuisine": "Georgian", "bread": "shoti bread"},
            {"cuisine": "Portuguese", "bread": "cornbread"},
        ],
        "gens": word_int(3, 5),
        "price_dinner": lambda r: f"${r.randrange(110, 260, 5)}",
        # ---------------- travel
        "dest": DESTS,
        "airline": AIRLINES,
        "hub": HUBS,
        "rail": [
            {"a": "Vienna", "b": "Venice", "h": "11"},
            {"a": "Paris", "b": "Nice", "h": "12"},
            {"a": "London", "b": "Inverness", "h": "11"},
            {"a": "Stockholm", "b": "Narvik", "h": "18"},
            {"a": "Berlin", "b": "Zurich", "h": "12"},
            {"a": "Brussels", "b": "Prague", "h": "14"},
            {"a": "Amsterdam", "b": "Innsbruck", "h": "13"},
            {"a": "Milan", "b": "Palermo", "h": "19"},
        ],
        "sleeper_extra": ["", " and breakfast is served in the cabin", " and the scenery at dawn is spectacular"],
        "trail": [
            "West Highland Way",
            "Camino Portugues",
            "Tour du Mont Blanc",
            "Kungsleden",
            "Lycian Way",
            "Pacific Crest Trail",
            "Dolomites Alta Via 1",
        ],
        "water_l": word_int(2, 4),
        "hut_trail": [
            "Tour du Mont Blanc",
            "Kungsleden",
            "Dolomites Alta Via 1",
            "Laugavegur trail",
            "Haute Route",
            "Eagle Walk in Tyrol",
        ],
        "dist_km": integer(12, 28),
        "village": [
            "a hillside village above Lake Como",
            "a fishing village on Crete",
            "the Cotswolds",
            "a quiet corner of the Douro Valley",
            "a mountain village in Slovenia",
            "a whitewashed village in Andalusia",
        ],
        "rooms": word_int(6, 14),
        "new_rooms": integer(12, 60),
        "view": ["harbor", "olive groves", "lake", "vineyards", "valley", "old town rooftops"],
        "country_t": [
            "Japan",
            "Portugal",
            "Vietnam",
            "Morocco",
            "Iceland",
            "New Zealand",
            "Costa Rica",
            "Greece",
            "Croatia",
            "Peru",
        ],
        "weeks_pass": word_int(6, 12),
        "fee_eur": ["5 euros", "10 euros", "3 euros", "8 euros"],
        "pass_days": ["three", "five", "seven", "four"],
        "shoulder_month": ["late September", "early October", "mid-October", "late October"],
        "ferry": [
            {"a": "Split", "b": "Hvar", "t": "an hour"},
            {"a": "Piraeus", "b": "Naxos", "t": "five hours"},
            {"a": "Oban", "b": "Mull", "t": "45 minutes"},
            {"a": "Helsinki", "b": "Tallinn", "t": "two hours"},
            {"a": "Naples", "b": "Capri", "t": "50 minutes"},
            {"a": "Bergen", "b": "Flam", "t": "five and a half hours"},
        ],
        "attraction": [
            "covered market",
            "botanical garden",
            "old merchants' quarter",
            "hilltop fortress",
            "maritime museum",
            "tiled monastery",
        ],
        "n_flights": integer(300, 1500, 10),
        "hsr": [
            {"a": "Madrid", "b": "Granada", "h": "three"},
            {"a": "Milan", "b": "Naples", "h": "five"},
            {"a": "Hanoi", "b": "Da Nang", "h": "six"},
            {"a": "Lisbon", "b": "Porto", "h": "two"},
            {"a": "Paris", "b": "Bordeaux", "h": "three"},
            {"a": "Beijing", "b": "Shanghai", "h": "five"},
        ],
        "park": ["Yosemite", "Glacier National Park", "Zion", "Banff", "Grand Teton", "Olympic National Park"],
        "exclusion": [
            "a hurricane that had already been named",
            "a pre-existing medical condition",
            "a strike that was announced before you bought the policy",
            "a change of plans",
        ],
        "hotel": [
            "Hotel Almadraba",
            "the Linden House",
            "Casa do Rio",
            "the Grand Veranda",
            "the Saltmarsh Inn",
            "Hotel Meridiana",
        ],
        "hotel_building": ["monastery", "tobacco warehouse", "19th-century post office", "wine cellar", "school"],
        "port": ["Dubrovnik", "Santorini", "Bergen", "Juneau", "Kotor", "Venice"],
        "spring_month": ["April", "May", "early June", "late March"],
        "warm_country": [
            "Portugal",
            "Morocco",
            "Greece",
            "Peru",
            "northern Vietnam",
            "Costa Rica",
            "southern Spain",
            "Sicily",
            "Mexico",
        ],
        "warm_c": ["25 degrees Celsius", "28 degrees Celsius", "22 degrees Celsius", "30 degrees Celsius"],
        "road": [
            {"name": "Iceland's Ring Road", "km": "1,330", "feature": "lava fields, glaciers and fishing villages"},
            {"name": "the Garden Route in South Africa", "km": "300", "feature": "forests, lagoons and quiet beaches"},
            {"name": "the Great Ocean Road", "km": "240", "feature": "limestone cliffs and surf beaches"},
            {"name": "the Carretera Austral", "km": "1,240", "feature": "rainforest, glaciers and turquoise lakes"},
            {
                "name": "Scotland's North Coast 500",
                "km": "830",
                "feature": "sheep farms, ruined castles and empty beaches",
            },
            {"name": "the Amalfi Coast road", "km": "50", "feature": "steep cliffs, lemon groves and sheltered coves"},
        ],
        "visitors": lambda r: f"{r.randint(4, 31)} million",
        "airport": AIRPORTS,
        "temple": [
            "the temples of Angkor",
            "Kyoto's Kiyomizu-dera",
            "the Blue Mosque",
            "Bangkok's Grand Palace",
            "the monasteries of Mount Athos",
        ],
        "fjord_town": ["Flam", "Geiranger", "Balestrand", "Alesund", "Undredal"],
        "n_countries": word_int(3, 5),
        "street_city": [
            {"city": "Penang", "dish": "char kway teow"},
            {"city": "Bangkok", "dish": "pad kra pao"},
            {"city": "Mexico City", "dish": "tacos de canasta"},
            {"city": "Istanbul", "dish": "grilled mackerel sandwiches"},
            {"city": "Hanoi", "dish": "bun cha"},
            {"city": "Marrakech", "dish": "snail soup"},
            {"city": "Taipei", "dish": "oyster omelet"},
        ],
        "cheap_usd": ["$3", "$4", "$5"],
        "hut_beds": integer(24, 80),
        "train_mins": ["15", "20", "30"],
        "tour_h": ["two hours", "three hours", "an hour and a half", "half a day"],
        "reef_place": [
            "the Gili Islands",
            "Belize's barrier reef",
            "the Red Sea resorts",
            "Ningaloo Reef",
            "the Bay Islands of Honduras",
        ],
        "visa_days": ["30", "60", "90"],
        "books_n": lambda r: f"{r.randrange(2000, 9000, 500):,}",
        "travel_tail": maybe(0.25, [", seasoned travelers say", ", travel agents say"]),
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
        "film_fest": [
            "Cannes",
            "the Venice Film Festival",
            "Sundance",
            "the Berlin Film Festival",
            "the Toronto International Film Festival",
        ],
        "ovation": word_int(5, 12),
        "novel_desc": [
            "sprawling family saga",
            "slim, unsettling debut",
            "darkly funny campus novel",
            "quiet, carefully observed novel",
            "ambitious historical novel",
        ],
        "novel_topic": [
            "three sisters running a failing hotel",
            "a lighthouse keeper's last winter",
            "a village divided by a new dam",
            "a translator who inherits a stranger's diaries",
            "two brothers reunited after decades apart",
        ],
        "prize": [
            "Booker Prize",
            "Women's Prize for Fiction",
            "National Book Award",
            "Costa first novel award",
            "International Dublin Literary Award",
        ],
        "sym": [{"composer": c, "n": n} for c, n in SYMPHONIES],
        "medium": ["oil paintings", "charcoal drawings", "woven tapestries", "abstract canvases", "ceramic sculptures"],
        "art_theme": [
            "the industrial landscape",
            "domestic life",
            "migration and memory",
            "the human body",
            "coastal light",
            "urban solitude",
        ],
        "resale": lambda r: f"${r.randrange(400, 1500, 50):,}",
        "sculpt_h": integer(4, 12),
        "square": ["the main square", "a riverside park", "the town's harbor", "a plaza near the cathedral"],
        "poem_topic": [
            "grief and gardening",
            "her grandmother's kitchen",
            "motherhood",
            "the sea",
            "working night shifts",
            "a childhood spent moving between cities",
        ],
        "acquisition": [
            "illuminated manuscript",
            "set of Dutch still lifes",
            "Renaissance bronze",
            "early photograph album",
            "medieval tapestry",
        ],
        "wing": ["east wing", "decorative arts galleries", "print room", "Renaissance galleries"],
        "play": ["Hamlet", "Macbeth", "King Lear", "Othello", "Romeo and Juliet", "Julius Caesar"],
        "setting": [
            "a 1970s oil town",
            "a modern corporate boardroom",
            "a crumbling seaside hotel",
            "a military compound",
            "a present-day housing estate",
        ],
        "album_ord": word_ord(2, 6),
        "n_acts": integer(80, 200, 5),
        "n_stages": word_int(4, 9),
        "mural_m": integer(40, 180, 5),
        "doc_subject": [
            "a family of beekeepers in rural Portugal",
            "a small-town newspaper in its final year",
            "three generations of fishermen on a Norwegian island",
            "a youth orchestra in a refugee camp",
            "a retired boxer running a gym for teenagers",
        ],
        "doc_years": word_int(3, 9),
        "memoir_topic": [
            "growing up above her parents' restaurant",
            "decades as a war correspondent",
            "his years as a touring jazz musician",
            "caring for a parent with dementia",
            "leaving a small farming town for the city",
        ],
        "perf_genre": ["chamber music", "touring plays", "operetta", "contemporary dance", "jazz and cabaret"],
        "auction_px": lambda r: f"${r.uniform(2.1, 38):.1f} million",
        "bidders": [
            "two telephone bidders",
            "collectors in Hong Kong and New York",
            "a museum and a private collector",
            "three bidders in the room",
        ],
        "n_countries_a": integer(18, 60),
        "movement": ["Surrealist", "Impressionist", "Bauhaus", "Cubist", "Pop", "Expressionist"],
        "art_context": [
            "the rise of photography",
            "the upheaval of the First World War",
            "the growth of industrial cities",
            "new ideas about color and light",
        ],
        "film_theme": ["grief", "aging parents", "small-town loneliness", "memory", "forgiveness"],
        "choir_n": integer(40, 90),
        "age_lo": integer(9, 16),
        "age_hi": ["70", "78", "82", "85"],
        "choral": [
            "Renaissance motets",
            "Bach cantatas",
            "folk songs from the Baltic states",
            "contemporary choral works",
            "Russian Orthodox chant",
        ],
        "pct_art": ["300%", "500%", "800%", "400%", "tenfold", "fivefold"],
        "install": [
            "thousands of suspended glass beads",
            "a forest of hanging paper lanterns",
            "shifting projections of ocean waves",
            "a maze of translucent fabric",
            "hundreds of tiny speakers playing birdsong",
        ],
        "anniv": ["50th", "75th", "100th", "60th", "90th"],
        "novel_place": [
            "postwar Naples",
            "rural Ireland",
            "1980s Lagos",
            "a Norwegian fishing town",
            "the Mississippi Delta",
            "Soviet-era Tbilisi",
        ],
        "ballet": ["Swan Lake", "Giselle", "The Nutcracker", "Romeo and Juliet", "Coppelia", "The Sleeping Beauty"],
        "ballet_co": ["The city ballet company", "The national ballet", "A touring Dutch company", "The Halden Ballet"],
        "jazz_city": ["New Orleans", "Chicago", "Copenhagen", "Tokyo", "Paris", "London"],
        "musician": person,
        "residency": word_int(4, 12),
        "archive_city": ["a Vienna", "a Leipzig", "a Prague", "a Bologna", "a Salzburg"],
        "photo_subject": [
            "life in a mining town during the 1970s",
            "the last days of the city's shipyards",
            "rural weddings across the Balkans",
            "the night shift at a busy hospital",
            "protest movements of the 1960s",
        ],
        "conductor": person,
        "opera": ["Tosca", "Carmen", "Madama Butterfly", "Lucia di Lammermoor", "Norma", "Rusalka"],
        "singer": woman,
        "judge_praise": [
            "a formally daring and deeply humane book",
            "a masterpiece of compression and restraint",
            "funny, furious and impossible to put down",
            "a novel of rare tenderness and ambition",
        ],
        "pct_sav": pct(3.5, 5.2, 2),
        "draw_score": ["1-1", "2-2", "0-0", "3-3"],
        "n_moons": word_int(3, 20),
        "giant_planet": ["Saturn", "Jupiter", "Uranus", "Neptune"],
        "n_countries_sci": integer(6, 31),
        "fall_place": [
            "northern Sweden",
            "Western Australia",
            "the Sahara",
            "Morocco",
            "rural Ontario",
            "southern England",
            "Antarctica",
        ],
        "treat": [
            "chocolate chip cookies",
            "caramel brownies",
            "a slice of ripe tomato",
            "buttered radishes",
            "dark chocolate bark",
            "a bowl of melon",
        ],
        "spice": ["cumin seeds", "coriander seeds", "fennel seeds", "peppercorns", "cardamom pods", "whole cloves"],
        "rest_min": ["10", "15", "20", "30"],
        "bag_fee": ["$35", "$40", "$45", "30 euros", "25 pounds"],
        "n_nights": word_int(2, 6),
        "n_lang": integer(12, 46),
        "mild_c": lambda r: f"{r.randint(9, 19)} degrees Celsius",
        "arts_tail": maybe(0.25, [", organizers said", ", according to the museum", ", critics noted"]),
    }
)

TEMPLATES["weather"] = [
    "Forecasters expect temperatures in {hot_city} to climb to {hot_f} degrees by {weekday}, and [residents have been urged to stay indoors during the hottest part of the afternoon|the city has opened cooling centers at libraries and community halls|utilities have asked customers to conserve power in the evening].",
    "A line of severe thunderstorms swept across {region_us} on {weekday} night, knocking down trees and leaving tens of thousands of homes without power.",
    "The National Weather Service issued a winter storm warning for {region_us}, where {snow_in} of snow could fall by {weekday} morning.",
    "Heavy rain caused flash flooding in parts of {uscity} on {weekday}, with some neighborhoods receiving more than {rain_in} of rain in just a few hours.",
    "{hurricane} strengthened into a Category {cat} storm over warm Gulf waters and is expected to make landfall late {days.a} or early {days.b}.",
    "After [weeks|months] of drought, farmers in {farm_region} welcomed a slow, soaking rain that [meteorologists|agronomists|local officials] said could help replenish dry soils before [planting|the winter wheat crop goes in|the growing season].",
    "Dense fog cut visibility to less than a quarter mile along {highway} early {weekday}, {fog_effect}.",
    "Temperatures in {seucity} reached {hot_c} on {weekday}, breaking a record that had stood since {year_old}, as a heat wave gripped [much of southern Europe|the Mediterranean|the region for a(n) {ordinal} straight day].",
    "Meteorologists say [a strong El Nino pattern|a developing La Nina|the shifting jet stream] is likely to bring a [wetter|snowier|stormier]-than-normal winter to {region_us}, while other parts of the country may stay mild and dry.",
    "Wildfire smoke drifting south from {fire_region} turned the sky over {uscity} a hazy [orange|yellow-gray], and health officials warned [people with asthma|older residents and children|anyone with heart or lung conditions] to limit time outdoors.",
    "Gusts of up to {wind_mph} [toppled power lines and tore shingles from roofs|uprooted trees and overturned trucks|ripped awnings from storefronts] across {uscity} as a powerful [cold front|storm system] moved through the region{wx_tail}.",
    "The first [frost|hard freeze] of the season is expected in {region_us} [this weekend|on {weekday} night], and gardeners are being advised to [cover tender plants or bring them inside overnight|harvest the last tomatoes and peppers|drain outdoor hoses and irrigation lines].",
    "A rare ice storm coated roads and trees in {ice_city} with {ice_in} of ice, making travel treacherous and snapping branches across the city.",
    "Weather officials in {country_w} raised the alert level to red as [monsoon rains|days of torrential rain|a tropical depression] triggered [landslides|river flooding] and forced [thousands|tens of thousands] of people to leave their homes.",
    "It was the {rank_w} warmest {month} on record for {uscity}, with the average temperature running about {anom_f} above normal{wx_tail}.",
    "Snowmelt from an unusually deep snowpack has pushed rivers in {mtn_region} close to flood stage, and [residents along the banks are filling sandbags|officials have closed several riverside campgrounds|rafting companies have suspended trips].",
    "A tornado with estimated winds of {torn_mph} touched down near {small_town}, late on {weekday}, destroying several barns and damaging dozens of homes.",
    "Skiers are in for a treat this weekend, with forecasters predicting {snow_in} of fresh powder across {ski_region}, followed by clear, cold skies.",
    "High humidity will make it feel closer to {hot_f} degrees in {hot_city} on {weekday}, so [outdoor workers|athletes and coaches|anyone working outside] should drink plenty of water and take frequent breaks in the shade.",
    "Coastal flood advisories remain in effect along the {coast} through {weekday}, as high tides and onshore winds push seawater into low-lying streets.",
    "Hailstones the size of {hail} pummeled parts of {uscity} on {weekday} afternoon, shattering windshields and shredding crops in nearby fields.",
    "A stubborn area of high pressure has kept {eucity} dry for {days_dry} consecutive days, [the longest rainless stretch the city has seen in decades|prompting restrictions on watering gardens|leaving parks brown and rivers unusually low].",
    "Overnight lows are forecast to drop to {cold_f} in {cold_city}, and [the city has opened warming centers for residents without adequate heating|officials are urging residents to check on elderly neighbors|plumbers are warning homeowners about frozen pipes].",
    "Residents of {uk_area} were told to expect travel disruption as {uk_storm} brought gusts of up to {wind_uk} and heavy rain to western parts of Britain.",
    "Scientists say the unusually warm {season} in {region_us} fits a broader pattern of rising temperatures that has made extreme heat more frequent.",
    "The weekend forecast for {uscity} looks [pleasant|ideal for outdoor plans], with [sunshine|plenty of sun], light winds and highs in the {tens} on Saturday before [clouds build on Sunday|a few showers arrive Sunday afternoon|a cooler breeze sets in on Sunday].",
    "Expect a sunny, breezy afternoon in {uscity}, with highs in the {tens}.",
    "Snow showers are likely across {region_us} tonight, with light accumulations on grassy surfaces.",
    "A heat advisory remains in effect for {hot_city} until 8 p.m. on {weekday}.",
    "[Morning fog|Low clouds|Patchy drizzle] in {uscity} should clear by [midday|late morning], giving way to a [mild and mostly sunny|bright, breezy|warm and humid] afternoon.",
    "Forecasters say the pattern that has brought weeks of [gray, drizzly|cool, unsettled|stormy] weather to {region_us} should finally break next week, when high pressure builds in from the [west|south] and pushes temperatures well above normal for {month}.",
    # --- probe-only ---
    "A slow-moving [storm|atmospheric river] is expected to dump {rain_in} of rain on {west_city} over the next [two|three] days, raising the risk of [mudslides|debris flows] in areas scarred by last year's fires.",
    "Temperatures plunged more than {drop_f} degrees in just a few hours as an Arctic cold front swept through {cold_city} on {weekday} evening.",
    "Forecasters warned that a late cold snap could bring frost to the [vineyards|orchards|olive groves] around {seucity}, threatening [the young buds and this year's harvest|crops that flowered early after a mild winter].",
    "The hurricane center said {storm_name} was moving northwest at about {speed_mph} and could bring a dangerous storm surge to the {coast} by {weekday}.",
    "Officials closed [several mountain passes|a major highway|ski area access roads] in {mtn_region} after heavy snow and strong winds created whiteout conditions and a [high|considerable] risk of avalanches.",
    "Lightning sparked [dozens of small wildfires|more than {fires_n} fires] across {west_region} [over the weekend|on {weekday}], as dry thunderstorms brought plenty of strikes but very little rain.",
    "After an unusually cool start to {month}, temperatures in {uscity} are expected to rebound into the {tens} by the end of the week{wx_tail}.",
    "Light snow is possible in {uk_area} on {weekday} morning, forecasters said, though any accumulations should melt quickly as temperatures rise above freezing.",
    "Scattered showers are expected in {eucity} on {weekday}, with a high of {mild_c}.",
]

TEMPLATES["sports"] = [
    "{soccer} beat {soccer2} {soc.w}-{soc.l} on {weekday} night, with {player} scoring twice in the second half to keep his side top of the table.",
    "{player} struck a(n) {minute}-minute winner as {soccer} came from behind to beat {soccer2} and reach the quarterfinals of the cup.",
    "The {bball} rallied from a(n) {deficit}-point deficit in the fourth quarter to beat the {bball2} {bb.w}-{bb.l}, snapping a(n) {streak_n}-game losing streak.",
    "{player} saved three match points before beating {player2} in a five-set thriller that lasted more than {hours_t} hours on Centre Court.",
    "{pwoman} reached her first Grand Slam final in {slam_city} with a straight-sets victory over the {seed} seed, {pwoman2}.",
    "The {baseball} clinched a playoff spot with a(n) {base.w}-{base.l} win over the {baseball2}, as {player} threw seven scoreless innings and struck out {k} batters.",
    "{player}, who took over as manager of {soccer} in the summer, was sacked on {weekday} after {lg.l} defeats in {lg.g} league games.",
    "{player} has signed a(n) {contract_years}-year contract extension with the {bball}, reportedly worth about {contract_m}{sport_tail}.",
    "Fans packed {stadium} for the derby, and {soccer} rewarded them with a dominant {soc.w}-{soc.l} win over {soccer2}.",
    "[The marathon|The men's race at the {marathon_city} marathon|The city's marathon] was won by {player} of {runner_country} in {mtime}, [a course record|the fastest time of the year|just outside the course record], despite [strong headwinds over the final few miles|warm, humid conditions|a hilly second half].",
    "{player} took the yellow jersey after a brutal mountain stage that finished with a(n) {climb_km}-kilometer climb to the summit.",
    "A hamstring injury is expected to keep {player} out for about {weeks_inj} weeks, a major blow to {soccer}'s hopes of qualifying for Europe.",
    "{player}, the {bball} guard, scored {pts} points, including {threes} three-pointers, as his team cruised past the {bball2} in front of a sellout crowd.",
    "{cricket_nation} won the toss and chose to bat, and by the close of [the first day|a rain-shortened first day] they had reached {runs} for {wkts} on a [slow, turning pitch|flat, lifeless pitch|green, seaming surface] against {cricket_nation2}.",
    "With the victory, {soccer} extended their unbeaten run to {unbeaten} matches in all competitions, their longest since {year_past}.",
    "Rookie quarterback {player} threw for {yards} yards and {tds} touchdowns as the {football} beat the {football2} in overtime.",
    "{soccer} announced that {player} had undergone successful knee surgery and would begin rehabilitation next week, with a return expected before the end of the season.",
    "{pwoman} needed just {mins} minutes to dismiss her opponent, dropping only {games_lost} games in a {round_ord}-round match that was never in doubt.",
    "Rain delayed the start of play by nearly two hours, but {player} recovered from a slow start to card a(n) {golf.under}-under-par {golf.total} and share the lead.",
    "The league fined the {bball} {fine} for violating its rules on resting healthy players during nationally televised games.",
    "{player}, the {age}-year-old striker, has scored {ga.goals} goals in {ga.apps} appearances this season and is attracting interest from several top clubs.",
    "The [women's national team|national team|under-21 team] [qualified for|booked its place at] next summer's [World Cup|European Championship] with a(n) {soc_win.w}-{soc_win.l} win over {soc_nation} in front of a [record home crowd|sellout crowd|raucous home crowd].",
    "Organizers said more than {spectators} spectators lined the [streets|route] for the final stage, which ended in a [sprint finish|chaotic bunch sprint] that {player} won by [half a wheel|a tire's width|a bike length].",
    "The {baseball} have lost {lg.l} of their last {lg.g} games, and the manager said the problem was a lineup that simply could not hit with runners in scoring position.",
    "{player} announced his retirement on {weekday} after a(n) {career}-year career in which he won {titles} league titles and played {caps} times for his country.",
    "The transfer fee for {player}, reported to be around {fee} million euros, would make him the most expensive signing in {soccer}'s history.",
    "{soccer} and {soccer2} played out a(n) {draw_score} draw on {weekday} night.",
    "{player} scored {pts} points as the {bball} beat the {bball2} on {weekday}.",
    "{pwoman} won the title in {slam_city} without dropping a set.",
    "The {baseball} placed {player} on the injured list with a strained oblique.",
    "For a club that spent most of last season [fighting relegation|in the bottom half|in financial trouble], the rise of {soccer} to [the top of the table|the top four|a cup final] has been remarkable, and the manager credits a young squad that has embraced his [high-pressing style|attacking approach|demanding training regime].",
    # --- probe-only ---
    "{soccer} were held to a goalless draw at home by {soccer2}, a result that leaves them {pts_gap} points behind the leaders with {games_left} games remaining.",
    "{player} withdrew from the tournament in {slam_city} with a wrist injury, handing a walkover to {player2} in the quarterfinals.",
    "The {football} defense forced {turnovers} turnovers and held the {football2} to just {fg_pts} points, their lowest total of the season.",
    "Late goals from {player} and {player2} gave {soccer} a(n) {soc_win.w}-{soc_win.l} win that lifted them out of the relegation zone for the first time since {month}.",
    "{player} holed a(n) {putt_ft}-foot birdie putt on the final green to win by one stroke, claiming his first major title at the age of {age_vet}.",
    "The {bball} have won {wins_n} straight games since acquiring {player} at the trade deadline, and they now sit third in the conference.",
    "{player} set a national record in the 10,000 meters, finishing in {ten_k_time} and beating the previous mark by almost {secs} seconds.",
    "{player}, the {baseball} rookie, hit a(n) {hr_ft}-foot home run in the eighth inning, the longest in the ballpark's history, to seal a(n) {base.w}-{base.l} victory.",
    "The {bball} signed {player} to a two-year deal on {weekday}.",
]

TEMPLATES["science"] = [
    "Researchers at {inst} have identified a previously unknown species of {taxon} in the cloud forests of {bio_region}, describing it in the journal {journal}.",
    "Astronomers using [the James Webb Space Telescope|a large ground-based telescope in Chile] detected {molecule} in the atmosphere of [an exoplanet|a gas giant|a rocky planet] about {ly} light-years from Earth.",
    "A study published in {journal_med} found that people who slept fewer than six hours a night had a(n) {pct_sci} higher risk of {condition} over a(n) {years_f}-year follow-up.",
    "Engineers at {inst} built a(n) {robot} robot that can {robot_ability}, a step toward machines that work safely alongside people.",
    "The team sequenced the genomes of {n_samples} ancient individuals buried across {site_region}, revealing that [farming spread through the area far earlier than thought|several waves of migrants mixed with local hunter-gatherers|the population collapsed after a plague outbreak].",
    "Climate scientists at {inst} reported that sea ice [around Antarctica|in the Arctic] reached its lowest [winter|summer] extent since satellite records began, a decline they called [alarming|unprecedented|deeply concerning].",
    "Physicists at {inst} say they kept a quantum memory stable for {q_time}, a record that could help make long-distance quantum networks more practical.",
    "Fossils unearthed in {fossil_region} belong to a(n) {dino} dinosaur that lived about {mya} million years ago, paleontologists reported in {journal}.",
    "The experimental [vaccine|nasal vaccine|mRNA vaccine] produced a strong immune response in {trial_n} volunteers, and researchers hope to begin a larger trial against {disease} [next year|in {year_future}].",
    "Using data from thousands of weather stations, {scientist} and colleagues showed that nighttime temperatures in cities are rising faster than daytime highs{sci_tail}.",
    "A(n) {drug_kind} slowed cognitive decline by about {pct_drop} in patients with early Alzheimer's disease, although {side_effect}.",
    "Marine biologists tagged {n_animals} {marine} off the coast of {sci_coast} to learn how the animals navigate thousands of kilometers across the open ocean.",
    "The [spacecraft|probe|orbiter] is scheduled to reach {planet} in {year_future}, where it will [map the surface|study the magnetic field|measure the chemistry of the surface] and search for signs of water [ice|] beneath the crust.",
    "Researchers trained an artificial intelligence model on {n_images} {ai.input} and found that it could {ai.task} about as accurately as {ai.baseline}.",
    "In a paper in {journal}, {scientist} and colleagues describe a battery made from {battery_mat} that kept {pct_ret} of its capacity after {cycles} charging cycles.",
    "A survey of {n_lakes} lakes across {lake_region} found that oxygen levels in deep water have dropped sharply since the [1980s|1970s], threatening [cold-water fish|trout and other cold-water species|lake ecosystems].",
    "Neuroscientists at {inst} mapped the connections between more than {neurons} neurons in [a fruit fly's brain|a tiny cube of mouse cortex|a zebrafish larva], producing [the most detailed wiring diagram to date|a map that took years to complete].",
    "The comet, which last passed through the inner solar system about {comet_yrs} years ago, should be visible to the naked eye in {month} {view_where}.",
    "Scientists found microplastics in {pct_found} of the {mp_sample} samples they examined, raising new questions about how the particles affect health{sci_tail}.",
    "[An international team of {team_n} researchers|Conservationists] reported that the wild {mammal} population has grown by about {pct_sci} over the past decade after years of decline, thanks to [anti-poaching patrols|habitat protection|community conservation programs].",
    "Geologists monitoring the volcano on {volcano} recorded more than {quakes} small earthquakes in a single day, prompting authorities to {volcano_action}.",
    "The gene-editing therapy was given to {trial_n_small} patients with {genetic} [in {sci_country}|at hospitals in three countries|], and all but one no longer needed regular blood transfusions [a year later|after 18 months].",
    "Researchers at {inst} showed that bumblebees can learn to link colors with sugar rewards after just {learn_trials} trials, evidence of surprisingly flexible learning.",
    "Satellite images analyzed by {scientist}'s team suggest that the {glacier} glacier has lost about {ice_pct} of its volume since {year_old}.",
    "The particle accelerator will shut down for {months_sci} months of upgrades that should raise its collision rate roughly {factor}, [physicists said|allowing more precise measurements of the Higgs boson|officials at the laboratory said].",
    "A long-term study of {n_children} children in {sci_country} found that those who spent more time [outdoors|playing outside|in daylight] were less likely to [become nearsighted|develop myopia].",
    "Astronomers have discovered {n_moons} previously unknown moons orbiting {giant_planet}, most of them only a few kilometers across.",
    "The study, published in {journal_med}, involved {trial_n} participants from {n_countries_sci} countries.",
    "Researchers at {inst} have sequenced the complete genome of the {mammal}.",
    "A meteorite that fell in {fall_place} [last year|in {month}] contains [dust grains older than the solar system|amino acids and other organic molecules|tiny crystals formed near the young sun].",
    "Although the findings are based on experiments in mice, researchers at {inst} say they suggest that a single [inflammatory protein|gut bacterium|immune gene] may help explain why some people recover quickly from [infection|illness] while others are ill for months.",
    # --- probe-only ---
    "Chemists at {inst} developed a catalyst that converts carbon dioxide into {chem_product} using sunlight, although the process is still far from commercial scale.",
    "The rover collected its {rover_n} rock sample from [an ancient river delta|the rim of a crater|a dried lake bed] on Mars, which scientists consider one of the best places to search for signs of past life.",
    "Ecologists reported in {journal} that {insect} populations across {lake_region} have declined by about {pct_drop} over the past two decades, largely because of habitat loss.",
    "A clinical trial involving {trial_n} adults found that a daily dose of {supplement} had no measurable effect on {outcome}, contradicting earlier small studies.",
    "Astronomers at {inst} detected [a burst of radio waves|a powerful flash of gamma rays|an unusually bright X-ray flare] from a galaxy about {gly} billion light-years away, one of the most distant such signals ever recorded.",
    "Scientists drilled an ice core more than {core_m} meters deep in {ice_region}, hoping to recover air bubbles that trapped the atmosphere [over a million years ago|during past warm periods|before the last ice age].",
    "Researchers found that wild {social_mammal} use distinct calls to address individual members of their group, behaving somewhat like names{sci_tail}.",
    "A new telescope in {chile_site} captured its first images on {weekday}, revealing thousands of faint galaxies in a patch of sky smaller than the full moon.",
    "The launch of the new [weather satellite|lunar lander|space telescope] has been delayed until {month} because of [a faulty valve|a software problem|damage during testing].",
]

TEMPLATES["food"] = [
    "At {restaurant} in {fcity}, chef {chef.name} serves {dish} with {side}, a dish that has drawn lines out the door since the restaurant opened.",
    "The secret to a good {home_dish}, says {chef.name}, is patience: let the {slow_ing} cook slowly over low heat until they turn deeply golden.",
    "This weeknight recipe for {quick_dish} comes together in about {mins_cook} minutes and uses pantry staples like {pantry} and {pantry2}.",
    "{restaurant}, a tiny {cuisine} restaurant tucked behind a laundromat in {fcity}, was named the best new restaurant of the year by a local food magazine.",
    "[Farmers market vendors|Growers|Produce buyers] say {produce} season arrived [early|late] this year, and shoppers should look for [fruit that feels heavy for its size and smells sweet|fruit with no soft spots or bruises|fruit that gives slightly when pressed].",
    "The tasting menu at {restaurant} costs {price_menu} per person and runs to {courses} courses, beginning with {starter} and ending with {dessert}.",
    "{chef.name} grew up cooking with {chef.pron} grandmother in {hometown}, and {chef.pron} new cookbook collects {n_recipes} family recipes alongside stories from that childhood.",
    "For a [crisp|golden|crackly] crust, heat the [cast-iron pan|baking steel|heavy skillet] in a(n) {oven_temp}-degree oven for at least {mins_short} minutes before adding the {dough}.",
    "[The bakery|The small bakery on {street_name}|{restaurant}] sells out of its {pastry} by [mid-morning|10 a.m.|late morning] most weekends, so regulars know to arrive before the doors open at {open_time}.",
    "A bowl of {soup} at {restaurant} costs just {price_cheap}, and the broth, simmered for {hours_cook} hours, is rich enough to drink on its own.",
    "Food writers have noticed a surge in restaurants offering {trend}, a trend that many chefs say is driven by younger diners looking for value.",
    "To make the dressing, whisk together olive oil, {acid}, a spoonful of {mustard} and a pinch of salt, then taste and adjust before tossing it with the greens.",
    "The owners of {restaurant} spent two years restoring an old {old_building}, keeping the original brick walls and adding an open kitchen with a wood-burning oven.",
    "Critics praised the {dish} at {restaurant}, calling the sauce {praise_adj}, though some found the dining room noisy on a busy Friday night.",
    "In {holiday_food.region}, families traditionally prepare {holiday_food.dish} for {holiday_food.occasion}, and recipes are passed down with fierce loyalty to small details.",
    "Store {herb} upright in a glass of water in the refrigerator, loosely covered with a [plastic bag|damp towel], and it will stay fresh for up to {days_fresh} days[, far longer than in the crisper drawer|].",
    "The city's first {cuisine} food hall opened on {weekday} with {stalls} stalls, selling everything from {street_food} to {street_food2}.",
    "{chef.name} recommends roasting the {veg} at high heat until the edges char, then finishing the tray with {finish}.",
    "A growing number of [coffee shops|cafes] in {fcity} roast their own beans, and some now offer single-origin [pour-overs|espressos|cold brews] from {coffee_origin} for about {price_coffee} a cup.",
    "The annual chili cook-off drew {chili_teams} teams this year, and the winning recipe, made with {chili_ing}, beat the defending champion by a single point.",
    "Day-old rice works best for {fried_dish} because it is drier, so cook a batch the night before, then toss it in a hot wok with {fry_add} and {fry_add2}.",
    "Pastry chef {chef.name} layers {cake_layer} with {cake_fill} in a cake that has become one of the most photographed desserts in {fcity}.",
    "Prices for {staple} have [climbed sharply|nearly doubled|risen steeply] this year, and some [restaurants|bakeries|cafes] in {fcity} have [quietly dropped dishes from their menus|shrunk portion sizes|added a small surcharge] rather than raise prices.",
    "A crisp {wine} pairs well with {pairing}, its bright acidity cutting through the richness of the dish, according to the sommelier at {restaurant}.",
    "After closing during the pandemic, {restaurant} has reopened under a new chef who kept the beloved {dish} but added {n_new} dishes inspired by {cuisine} cooking.",
    "Home cooks often crowd the pan, which steams the {protein} instead of searing them, so [cook in batches|use the largest skillet you own] and resist the urge to move the pieces too soon.",
    "A pinch of flaky salt on top makes {treat} taste even better.",
    "{restaurant} is open for dinner Tuesday through Saturday and does not take reservations.",
    "Toast the {spice} in a dry pan until fragrant before grinding them.",
    "The new {cuisine} spot in {fcity} serves only lunch, and the menu changes daily.",
    "What makes the {dish} at {restaurant} so memorable is not any single ingredient but the care behind it: the stock is made every morning, the herbs come from the garden, and nothing is rushed.",
    # --- probe-only ---
    "{restaurant} in {fcity} earned its first Michelin star this year for a menu built around {local_ing} from small farms within {miles} miles of the dining room.",
    "Soak the {beans} overnight, then simmer them with {aromatics} until tender, which can take anywhere from one to three hours depending on their age.",
    "The food truck, which parks outside the {park_place} on weekdays, is known for its {street_food} and a fiery {sauce} that customers buy by the jar.",
    "{chef.name} says the most common mistake with {fix.dish} is adding the {fix.ing} too early, which can leave the texture {fix.tex}.",
    "Ice cream shops in {fcity} are experimenting with unusual flavors such as {flavor} and {flavor2}, and some weekly specials sell out within hours.",
    "The cooking school offers a(n) {course_len}-week course on {skill}, with classes limited to {class_n} students so that everyone gets time at the stove.",
    "A family-run {bakery.cuisine} bakery in {fcity} has been making {bakery.bread} the same way for {gens} generations, using a starter older than the building itself.",
    "Dinner for two [with wine|with cocktails|with a bottle of {wine}] at {restaurant} came to about {price_dinner}, which felt [fair|reasonable] for cooking this careful in a neighborhood short on good restaurants.",
    "Let the [roast|turkey|leg of lamb|brisket] rest for at least {rest_min} minutes before carving so the juices can settle.",
]

TEMPLATES["travel"] = [
    "Travelers heading to {dest} this {season} should book [accommodation|hotels] early, as [hotels in the old town|the best guesthouses|central apartments] often fill up weeks in advance[ during festivals|].",
    "{airline} will launch nonstop flights between {hub} and {dest} in {month}, with {n_countries} weekly departures on a new wide-body aircraft.",
    "The overnight train from {rail.a} to {rail.b} takes about {rail.h} hours, and a [private sleeper cabin|bed in a shared couchette|compartment for two] can cost less than [a night in a central hotel|a budget flight once baggage fees are added].",
    "Hikers on the {trail} should carry at least {water_l} liters of water per person, because there are few reliable sources along the exposed {dist_km}-kilometer stage.",
    "The small guesthouse in {village} has just {rooms} rooms, each with a balcony overlooking the {view}, and breakfast is served on a shaded terrace.",
    "Passport processing times {pass_country} have lengthened again, and officials recommend applying at least {weeks_pass} weeks before any {trip_kind}.",
    "{dest} has introduced a [daily entry fee|tourist tax] of {fee_eur} for [day-trippers|visitors who do not stay overnight] during peak periods, in an effort to ease overcrowding in its historic center.",
    "Budget travelers can get around {dest} cheaply with a(n) {pass_days}-day transit pass, which covers [buses, trams and most suburban trains|the metro and city buses|public transport and several museums].",
    "Flights to {dest} tend to be cheapest in {shoulder_month}, when the summer crowds have gone but the weather is still [warm enough for long walks|pleasant enough to eat outdoors|mild].",
    "The ferry from {ferry.a} to {ferry.b} takes about {ferry.t} and offers views of the coastline that rival any scenic drive in the region.",
    "Many visitors rush through {dest}, but it rewards a slower pace: spend an afternoon at its {attraction} and an evening at one of the family-run restaurants nearby.",
    "{airline} said it would cancel about {n_flights} flights over the [holiday weekend|coming week] because of [a shortage of air traffic controllers|a pilots' strike|engine inspections], disrupting thousands of passengers' plans.",
    "A new high-speed rail line has cut the journey between {hsr.a} and {hsr.b} to under {hsr.h} hours, making a day trip between the two cities possible.",
    "Campgrounds in {park} open for reservations [six months|five months] in advance, and the most popular [riverside|lakeside] sites are usually booked within [minutes|hours].",
    "Travel insurance may not cover a trip canceled because of {exclusion}, so read the policy carefully before you buy.",
    "{hotel}, a converted {hotel_building} on the edge of {dest}, has reopened after a renovation that added a rooftop pool and {new_rooms} new guest rooms.",
    "Cruise passengers arriving in {port} now outnumber residents on busy summer days, and local leaders are debating [limits on the number of ships that can dock|a new passenger tax|moving the cruise terminal out of the center].",
    "If you are visiting {warm_country} in {spring_month}, pack layers: mornings can be chilly in the mountains, while afternoons in the valleys often reach {warm_c}.",
    "The drive along {road.name} covers about {road.km} kilometers and passes {road.feature}, with plenty of places to stop for photographs.",
    "Tourism officials in {country_t} expect a record {visitors} international visitors this year, driven by strong demand from travelers in [Asia and North America|Europe|the Gulf states] and new [air routes|direct flights].",
    "Airport lounges at {airport} have become so crowded that [some airlines now limit access to passengers flying in premium cabins on the same day|credit card issuers now admit cardholders only three hours before departure|operators have started turning away members at peak times].",
    "Visitors to {temple} are asked to dress modestly, covering shoulders and knees, and to remove their shoes before entering the inner halls.",
    "Passengers flying {airline} will soon be able to board using facial recognition at {airport}, part of a trial the airline hopes will shorten lines at the gate.",
    "The best way to see the fjords is from the water, and several operators in {fjord_town} run [small-boat|kayak|electric-boat] tours that stop beneath waterfalls and at [remote farms|abandoned mountain farms].",
    "Rail passes remain good value for travelers planning to visit at least {n_countries} countries, though seat reservations on [popular routes|high-speed trains] now cost extra{travel_tail}.",
    "Street food stalls in {street_city.city} open around sunset, and a plate of {street_city.dish} with a cold drink rarely costs more than {cheap_usd}.",
    "Book [train tickets|long-distance bus seats|domestic flights] in {country_t} at least [a week|two weeks|a month] ahead for the best fares.",
    "{airline} now charges {bag_fee} for a checked bag on short-haul flights.",
    "[Most museums|Several of the major museums|The city's art museums] in {dest} are free on the first Sunday of every month[, though lines can be long|].",
    "Trains between {hsr.a} and {hsr.b} run every hour during the day.",
    "Travelers who want to avoid the crowds in {dest} should go out early, before the [tour buses|cruise groups] arrive, and save the main sights for [late afternoon|early evening], when the light is softer and the day-trippers have left.",
    # --- probe-only ---
    "{airline} has added a fourth daily flight between {hub} and {dest} to meet demand from business travelers returning to the office.",
    "The mountain hut on the {hut_trail} sleeps {hut_beds} people in shared dormitories, and hikers must reserve a bunk months ahead during the summer.",
    "Rising hotel prices in {dest} have pushed many visitors to stay in nearby towns, where rooms cost about [half|a third] as much and [buses|local trains] run every {train_mins} minutes.",
    "Delays at {airport} stretched to several hours on {weekday} after [a baggage system failure|a power outage|an IT glitch at check-in], and the airport advised passengers to [travel with carry-on luggage only|arrive at least three hours early].",
    "A walking tour of the old quarter in {dest} takes about {tour_h} and passes the cathedral, the covered market and a string of cafes where locals linger over coffee.",
    "Snorkelers at {reef_place} can see [sea turtles, reef sharks and schools of parrotfish|rays, octopus and bright coral gardens] just a short swim from the beach, especially in the calm early mornings.",
    "Visa rules for {country_t} changed this year, and travelers from [most European countries|the United States and Canada|many Asian countries] can now stay for up to {visa_days} days without applying in advance.",
    "The historic hotel in {village} still uses its original brass keys, and guests can take afternoon tea in a library stocked with {books_n} books.",
    "{airline} will resume flights to {dest} in {month} after a two-year pause.",
]

TEMPLATES["arts"] = [
    "A retrospective of {artist}'s paintings opens at {museum} on {weekday}, bringing together more than {n_works} works spanning five decades.",
    "{director}'s new film, {film}, premiered at {film_fest} to a standing ovation that lasted nearly {ovation} minutes.",
    "The novel {novel}, a(n) {novel_desc} about {novel_topic}, has been shortlisted for this year's {prize}.",
    "{orchestra} gave a luminous performance of {sym.composer}'s {sym.n} Symphony on {weekday} night, with the strings especially warm in the slow movement.",
    "The new show at {gallery} pairs {artist}'s {medium} with photographs by {artist2}, exploring how both artists depicted {art_theme}.",
    "Tickets for the [reunion tour|first tour in a decade|stadium tour] by {band} sold out in [minutes|under an hour], and fans have complained about resale prices reaching {resale} for seats in the [upper tier|back rows|nosebleed section].",
    "The sculpture by {artist}, a(n) {sculpt_h}-meter [figure cast in bronze|abstract form in weathered steel|figure carved from local granite], was unveiled in {square} after a public campaign that raised money from [thousands of small donors|local schools and businesses|residents of the town].",
    "In her debut collection, {author_f} writes about {poem_topic} with precision and restraint, and several of the poems have already been set to music.",
    "{museum} has acquired a rare {acquisition} for an undisclosed sum, and it will go on display in the newly renovated {wing} next spring{arts_tail}.",
    "Critics were divided over the new production of {play}, which moves Shakespeare's tragedy to {setting}, but the lead actor's performance was widely praised.",
    "{band} released their {album_ord} album on {weekday}, a moody, synth-heavy record that marks a sharp departure from their guitar-driven early work.",
    "The festival will feature more than {n_acts} acts across {n_stages} stages, with {band} and {band2} headlining on Friday and Saturday nights.",
    "{artist} spent [three|two|four] years painting the mural, which stretches along {mural_m} meters of a former [factory|warehouse|rail depot] wall and depicts [the history of the neighborhood|the workers who once filled the district|the river that runs through the city].",
    "The documentary follows {doc_subject} and was filmed over {doc_years} years, giving it an intimacy that few recent nonfiction films have achieved.",
    "The memoir by {author} recounts {memoir_topic}, and its candid account of family life has made it one of the surprise bestsellers of the {season}.",
    "After a [two-year|three-year|long-delayed] restoration, the [theater's painted ceiling|concert hall's gilded balconies|opera house's chandelier] has been returned to its original [colors|splendor], and the venue will reopen in {month} with a season of {perf_genre}.",
    "The auction house said the painting by {artist} sold for {auction_px}, more than double its high estimate, after a bidding battle between {bidders}.",
    "Young composers from {n_countries_a} countries submitted works for the competition, and the winning piece will be performed by {orchestra} in {month}.",
    "The exhibition explores how {movement} artists responded to {art_context}, with loans from collections in Paris, New York and Tokyo{arts_tail}.",
    "{director} said the screenplay for {film} grew out of years spent caring for a parent, and the film's quiet study of {film_theme} reflects that experience.",
    "The choir, made up of {choir_n} singers aged from {age_lo} to {age_hi}, will perform a program of {choral} at the cathedral on Sunday evening.",
    "Streams of the new single by {band} jumped more than {pct_art} after the song featured in the final episode of a popular television drama.",
    "The installation by {artist} fills the museum's atrium with {install}, and visitors are invited to walk through it slowly and in silence.",
    "The city's oldest independent bookshop is celebrating its {anniv} anniversary with a month of readings, including an evening with {author}.",
    "{novel}, the second novel by {author}, traces three generations of a family in {novel_place}, and its final chapter is as moving as anything published this year.",
    "{ballet_co} opened its new production of {ballet} on {weekday}, pairing minimalist sets and modern costumes with choreography that stays faithful to the original.",
    "{band} will play {n_nights} nights at the city's largest arena this {season}.",
    "{film}, the new drama from {director}, opens in cinemas across the country on {weekday}.",
    "The gallery is open daily from 10 a.m., and admission to the {artist} show is free.",
    "{novel}, the bestselling novel by {author}, has now been translated into {n_lang} languages.",
    "Few debut albums arrive as [fully formed|assured|confident] as the one by {band}, whose songs move easily between [hushed folk ballads|spare piano pieces|lo-fi bedroom pop] and [sprawling, noisy anthems|driving rock songs|swirling electronic tracks] about [small towns, bad jobs and the people who never leave|love, debt and leaving home|growing up on the coast].",
    # --- probe-only ---
    "Early drawings by {artist}, rarely shown in public, reveal an artist already preoccupied with {art_theme} long before the large canvases that brought international fame.",
    "The jazz club in {jazz_city} has booked the {musician} Quartet for a(n) {residency}-night residency, and the first two shows sold out within hours.",
    "{director}'s film adaptation of {novel} stays close to the book, though it trims several subplots and moves the action away from {novel_place}.",
    "A previously unknown [letter|manuscript sketch|set of letters] by {sym.composer} was found in {archive_city} [library|monastery archive|private collection], shedding new light on the composer's [finances and working habits|final years|relationship with his publisher].",
    "The photography exhibition at {gallery} documents {photo_subject}, and many of the images are being shown in public for the first time{arts_tail}.",
    "The orchestra's new music director, {conductor}, opened the season with {sym.composer}'s {sym.n} Symphony and a new work commissioned for the occasion.",
    "The opera house will stage {opera} in a new production set in {setting}, with {singer} making her debut in the title role.",
    "{author} won this year's {prize} for {novel}, which the judges described as {judge_praise}.",
    "The opening night film at this year's festival will be {film}, directed by {director}.",
]

# ---------------------------------------------------------------------------
# Template engine
# ---------------------------------------------------------------------------

# {base}, {base2}, {base.field}, {base2.field}; same key -> same value within a
# sentence; different index -> a different value of the same slot.
PLACEHOLDER = re.compile(r"\{([a-z_]+?)(\d*)(?:\.([a-z_]+))?\}")
# [option a|option b|...] inline alternation (an empty option is allowed)
ALTERNATION = re.compile(r"\[([^\[\]]*)\]")
ARTICLE = re.compile(r"\b([Aa])\(n\) (\S+)")
_AN_EXCEPTIONS = ("uni", "use", "usu", "ut", "eu", "one", "once", "ubiq", "ura")
_AN_SILENT_H = ("hour", "honest", "honor", "heir")


def _an(word: str) -> bool:
    w = word.lstrip("\"'($€£")
    if not w:
        return False
    if w[0].isdigit():
        return bool(re.match(r"(8|11(?!\d)|18(?!\d))", w))
    head = re.split(r"[-\s]", w)[0]
    if len(head) >= 2 and head.replace(".", "").isupper():  # acronym, read letter by letter
        return head[0] in "AEFHILMNORSX"
    lw = w.lower()
    if lw.startswith(_AN_SILENT_H):
        return True
    if lw.startswith(_AN_EXCEPTIONS):
        return False
    return lw[0] in "aeiou"


def resolve_articles(text: str) -> str:
    def sub(m):
        a, nxt = m.group(1), m.group(2)
        art = "an" if _an(nxt) else "a"
        return (art.capitalize() if a == "A" else art) + " " + nxt

    return ARTICLE.sub(sub, text)


def draw(base: str, r: random.Random):
    try:
        src = S[base]
    except KeyError:
        raise KeyError(f"unknown slot {{{base}}}") from None
    return src(r) if callable(src) else r.choice(src)


def fill(template: str, r: random.Random) -> str:
    chosen: dict = {}
    used: dict = defaultdict(set)

    def sub(m):
        base, idx, field = m.groups()
        key = (base, idx)
        if key not in chosen:
            for _ in range(100):
                v = draw(base, r)
                ident = v["name"] if isinstance(v, dict) and "name" in v else json.dumps(v, sort_keys=True)
                if ident not in used[base]:
                    break
            used[base].add(ident)
            chosen[key] = v
        v = chosen[key]
        if isinstance(v, dict):
            return v[field or "name"]
        if field:
            raise KeyError(f"slot {{{base}}} has no fields")
        return v

    text = ALTERNATION.sub(lambda m: r.choice(m.group(1).split("|")), template)
    for _ in range(4):  # slot values may contain placeholders
        new = PLACEHOLDER.sub(sub, text)
        if new == text:
            break
        text = new
    return tidy(resolve_articles(text))


def tidy(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"(?<=[a-z]s)'s\b", "'", text)  # "Industries's" -> "Industries'"
    text = re.sub(r"\s+([,.;:])", r"\1", text)
    text = re.sub(r",\s*,", ",", text)
    text = re.sub(r"\.\.(?=\s|$)", ".", text)  # "7 a.m.." -> "7 a.m."
    text = text[0].upper() + text[1:]
    if text[-1] not in ".!?":
        text += "."
    return text


def norm(text: str) -> str:
    """Normalisation used for duplicate / overlap checks."""
    return re.sub(r"\s+", " ", text.lower()).strip()


def norm_loose(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def n_words(text: str) -> int:
    return len(text.split())


def split_templates(cat: str):
    t = TEMPLATES[cat]
    return t[:-N_PROBE_TEMPLATES], t[-N_PROBE_TEMPLATES:]


def generate(cat: str, templates: list[str], n: int, r: random.Random, seen: set, seen_loose: set) -> list[dict]:
    """Round-robin over (shuffled) templates so each is used ~equally often."""
    rows, dead = [], set()
    order: list[int] = []
    while len(rows) < n:
        if len(dead) == len(templates):
            raise RuntimeError(f"{cat}: templates exhausted after {len(rows)} sentences")
        if not order:
            order = [i for i in range(len(templates)) if i not in dead]
            r.shuffle(order)
        i = order.pop()
        for _ in range(200):
            text = fill(templates[i], r)
            if not MIN_WORDS <= n_words(text) <= MAX_WORDS:
                continue
            k, kl = norm(text), norm_loose(text)
            if k in seen or kl in seen_loose:
                continue
            seen.add(k)
            seen_loose.add(kl)
            rows.append({"text": text, "category": cat, "domain": DOMAIN[cat]})
            break
        else:
            dead.add(i)
    return rows


def validate_templates() -> None:
    """Every {...} group must be a well-formed placeholder naming a known slot."""
    for cat, temps in TEMPLATES.items():
        for t in temps:
            for grp in re.findall(r"\{[^{}]*\}", t):
                m = PLACEHOLDER.fullmatch(grp)
                assert m and m.group(1) in S, f"{cat}: bad placeholder {grp} in {t!r}"
            rest = PLACEHOLDER.sub("", ALTERNATION.sub("", t))
            assert not re.search(r"[{}\[\]|]", rest), f"{cat}: stray bracket in {t!r}"
    for name, src in S.items():
        assert not re.search(r"\d", name), f"slot names must not contain digits: {name}"


def build(seed: int):
    validate_templates()
    seen: set = set()
    seen_loose: set = set()
    corpus, probe = [], []
    for cat in CATEGORIES:
        train_t, probe_t = split_templates(cat)
        # string seeds are hashed deterministically (sha512) by random.Random
        corpus += generate(cat, train_t, N_CORPUS[cat], random.Random(f"{seed}:{cat}:corpus"), seen, seen_loose)
        probe += generate(cat, probe_t, N_PROBE, random.Random(f"{seed}:{cat}:probe"), seen, seen_loose)
    random.Random(f"{seed}:shuffle").shuffle(corpus)
    return corpus, probe


# ---------------------------------------------------------------------------
# Invariants and reporting
# ---------------------------------------------------------------------------


def check(corpus: list[dict], probe: list[dict]) -> None:
    assert set(TEMPLATES) == set(CATEGORIES) and len(CATEGORIES) == 13
    for cat in CATEGORIES:
        train_t, probe_t = split_templates(cat)
        assert len(train_t) >= MIN_CORPUS_TEMPLATES, (cat, len(train_t))
        assert len(set(TEMPLATES[cat])) == len(TEMPLATES[cat]), f"{cat}: duplicate template"
        assert not set(train_t) & set(probe_t)
    for name, rows, want in (("corpus", corpus, N_CORPUS), ("probe", probe, {c: N_PROBE for c in CATEGORIES})):
        counts = Counter(row["category"] for row in rows)
        assert set(counts) == set(CATEGORIES), (name, sorted(counts))
        assert counts == Counter(want), (name, counts)
        for row in rows:
            assert set(row) == {"text", "category", "domain"}, row
            assert row["domain"] == DOMAIN[row["category"]], row
            t = row["text"]
            assert isinstance(t, str) and t.strip() == t and t, row
            assert not re.search(r"[{}\[\]|]|\(n\)", t), row
            assert MIN_WORDS <= n_words(t) <= MAX_WORDS, row
        keys = [norm(row["text"]) for row in rows]
        assert len(keys) == len(set(keys)), f"{name}: duplicate sentences"
    c_keys = {norm(row["text"]) for row in corpus}
    p_keys = {norm(row["text"]) for row in probe}
    assert not c_keys & p_keys, "probe/corpus exact overlap"
    assert not ({norm_loose(r["text"]) for r in corpus} & {norm_loose(r["text"]) for r in probe})


def report(corpus: list[dict], probe: list[dict]) -> str:
    lines = []
    hdr = f"| {'category':<14} | {'domain':<9} | {'corpus':>6} | {'probe':>5} | {'tmpl (corpus/probe)':>19} | {'mean words':>10} |"
    lines += [hdr, "|" + "|".join("-" * (len(c)) for c in hdr.split("|")[1:-1]) + "|"]
    for cat in CATEGORIES:
        tr, pr = split_templates(cat)
        rows = [r for r in corpus if r["category"] == cat]
        mw = statistics.mean(n_words(r["text"]) for r in rows)
        nc = len(rows)
        npb = sum(r["category"] == cat for r in probe)
        lines.append(
            f"| {cat:<14} | {DOMAIN[cat]:<9} | {nc:>6} | {npb:>5} | {f'{len(tr)}/{len(pr)}':>19} | {mw:>10.1f} |"
        )
    lines.append(
        f"| {'TOTAL':<14} | {'':<9} | {len(corpus):>6} | {len(probe):>5} | {'':>19} | "
        f"{statistics.mean(n_words(r['text']) for r in corpus):>10.1f} |"
    )
    lines.append("")
    for dom in ("financial", "general"):
        rows = [r for r in corpus if r["domain"] == dom]
        words = sum(n_words(r["text"]) for r in rows)
        lines.append(
            f"corpus {dom:<9}: {len(rows):>5} sentences, {words:>6} words "
            f"({words / sum(n_words(r['text']) for r in corpus):.1%} of words)"
        )
    wc = [n_words(r["text"]) for r in corpus + probe]
    lines.append(
        f"words per sentence (all): min {min(wc)}, max {max(wc)}, "
        f"mean {statistics.mean(wc):.1f}, median {statistics.median(wc)}"
    )
    return "\n".join(lines)


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent)
    args = ap.parse_args(argv)

    corpus, probe = build(args.seed)
    check(corpus, probe)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(args.out_dir / "corpus.jsonl", corpus)
    write_jsonl(args.out_dir / "probe.jsonl", probe)
    sys.stdout.write(report(corpus, probe) + "\n")
    sys.stdout.write(
        f"\nwrote {args.out_dir / 'corpus.jsonl'} and {args.out_dir / 'probe.jsonl'} "
        f"(seed {args.seed}); all invariants passed\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
