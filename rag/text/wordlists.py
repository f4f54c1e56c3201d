"""Every word list in one place: stop words, question scaffolding, calendar words, titles,
chat shorthand. Lower case unless the list is of capitalised forms."""

from __future__ import annotations

from bm25s.stopwords import STOPWORDS_EN

# Words that carry a question's intent but no topic: kept out of term coverage.
QUESTION_WORDS = frozenset(
    (
        "what which who whom whose when where why how many much did does do is are was were "
        "according say said tell also compare compared comparison mentioned mention article "
        "articles"
    ).split()
)
STOPWORDS = frozenset(STOPWORDS_EN) | QUESTION_WORDS

# Titles written before a name ("Sec. Austin", "Gen. Cavoli").
TITLE_ABBREVIATIONS = (
    "Sec Gen Lt Col Maj Capt Sgt Adm Sen Rep Gov Amb Pres Dr Mr Mrs Ms Prof St Jr Sr".split()
)

# Courtesy titles: before a name they address the person, they do not describe them.
HONORIFICS = frozenset("mr mrs ms miss mx dr sir dame lord lady madam monsieur herr".split())

MONTH_NAMES = (
    "January February March April May June July August September October November December"
).split()
WEEKDAY_NAMES = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
# Abbreviations as printed in news copy ("Dec. 3-4") match the full names.
MONTH_ABBREVIATIONS = {
    **{m[:3].lower(): m.lower() for m in MONTH_NAMES if len(m) > 3},
    "sept": "september",
}
# Month and day names, lower-cased: capitalised, yet never the name of a subject.
CALENDAR_WORDS = frozenset(w.lower() for w in (*MONTH_NAMES, *WEEKDAY_NAMES))

# Chat shorthand seen in typed questions; expanded before anything else looks at them.
SHORTHAND = {
    "ppl": "people",
    "govt": "government",
    "gov": "government",
    "hq": "headquarters",
    "intl": "international",
    "mil": "military",
    "bn": "billion",
    "mn": "million",
    "yr": "year",
    "yrs": "years",
    "abt": "about",
    "u": "you",
    "ur": "your",
    "secgen": "secretary general",
    "approx": "approximately",
    "dept": "department",
    "pres": "president",
    "amt": "amount",
    "num": "number",
    "whats": "what is",
    "wats": "what is",
    "wat": "what",
    "whos": "who is",
    "hows": "how is",
    "wheres": "where is",
    # contractions typed without the apostrophe, given it back
    "thats": "that's",
    "theres": "there's",
    "dont": "don't",
    "doesnt": "doesn't",
    "didnt": "didn't",
    "isnt": "isn't",
    "wasnt": "wasn't",
    "arent": "aren't",
    "cant": "can't",
    "wont": "won't",
}

# Short words inside a multi-word name that its acronym skips ("Security Assistance *and*
# Training *for* Ukraine" -> NSATU).
NAME_FUNCTION_WORDS = ("and", "for", "of", "the", "to", "in", "on")
