"""Fictional text captures of one news site: five articles in one page template (for evidence tests)."""

from __future__ import annotations

SITE = "https://www.tidewater-ledger.example"
BLURB = (
    "The Tidewater Ledger is an independent newspaper that has covered the harbour towns since 1921, "
    "and it is owned by a cooperative of more than four thousand of its readers."
)
TEMPLATE = """Skip to content
The Tidewater Ledger
Home
Harbour
Council
Weather
Sport

{title}

By {author}
{date}

{body}

{blurb}

Contact the newsroom
"""
ARTICLES = [
    (
        "Ferry timetable changes after winter storms",
        "Ines Calloway",
        "March 3, 2026",
        [
            "The harbour ferry will run on a reduced timetable for six weeks while engineers repair the landing "
            "stage that was damaged during the February storms.",
            "Passengers travelling before seven in the morning are advised to use the coastal bus, which the "
            "council has agreed to run every twenty minutes until the repairs are finished.",
            "The operator said the cost of the work would be shared with the port authority, and that season "
            "tickets would be extended by the number of days lost.",
        ],
    ),
    (
        "Library wins funding for a new reading room",
        "Tomas Brandt",
        "March 9, 2026",
        [
            "The town library has been awarded a grant to turn its disused basement into a reading room with "
            "space for local history archives and a small exhibition area.",
            "Volunteers have spent two years cataloguing photographs and letters donated by fishing families, "
            "many of which have never been shown in public.",
            "Building work is expected to begin in the autumn, and the library will stay open throughout.",
        ],
    ),
    (
        "School orchestra to play at the spring festival",
        "Mara Ellison",
        "March 14, 2026",
        [
            "Forty pupils from the secondary school will open the spring festival on the quayside with a "
            "programme of sea shanties arranged for strings and brass.",
            "Their music teacher said the pupils had rehearsed every Thursday since January and had raised the "
            "money for new music stands by washing cars in the school car park.",
            "Tickets are free, but organisers ask visitors to bring a donation for the lifeboat station.",
        ],
    ),
    (
        "Council approves plan for safer cycle routes",
        "Ines Calloway",
        "March 20, 2026",
        [
            "Councillors voted unanimously to widen the cycle path along the estuary and to add lighting to "
            "the stretch between the marina and the railway bridge.",
            "Residents who took part in the consultation said the path was too narrow for families and that "
            "the lack of lighting made it dangerous on winter evenings.",
            "The first section should be finished before the summer holidays, according to the council's "
            "transport officer.",
        ],
    ),
    (
        "Fish market reopens with a new cold store",
        "Tomas Brandt",
        "March 27, 2026",
        [
            "The fish market reopened on Monday after a three-month refit that added a cold store large enough "
            "for a full week of landings.",
            "Traders said the new store would let smaller boats sell directly to restaurants instead of "
            "accepting the lowest price at the morning auction.",
            "The market will hold an open day on Saturday with cooking demonstrations by local chefs.",
        ],
    ),
]


def page(n: int) -> tuple[str, str]:
    """Return (URL, text capture) of article `n`."""
    title, author, date, paragraphs = ARTICLES[n]
    url = f"{SITE}/news/{title.lower().replace(' ', '-')}"
    text = TEMPLATE.format(title=title, author=author, date=date, body="\n\n".join(paragraphs), blurb=BLURB)
    return url, text
