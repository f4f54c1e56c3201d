"""Articles the corpus-management tests add: invented facts no seed mentions, so an answer
that cites them can only come from the added article."""

from __future__ import annotations

QUESTION = "Which city will host the Quillon drone depot?"
ARTICLE = """THE HARBOUR GAZETTE
Sign in | Subscribe

Allies pick Tallinn for the new Quillon drone depot

Published 3 March 2025 10:00 CET
By Mirela Quast, Tallinn

Advertisement

{body}

Share: Facebook | X | Email

About the author: Mirela Quast covers Baltic security for the Harbour Gazette.
""".format(
    body="\n".join(
        (
            "The Quillon drone depot will be built in Tallinn, the alliance's logistics board "
            "decided on Monday after a two-year search.",
            "The depot is expected to store about 4,000 interceptor drones for Ukraine and to "
            "open in the spring of 2026.",
            "Officials said the site was chosen for its rail links and its distance from "
            "the front.",
        )
    )
)
UPDATED_ARTICLE = ARTICLE.replace("Tallinn, the alliance's", "Riga, the alliance's").replace(
    "Allies pick Tallinn", "Allies pick Riga"
)
HTML_PAGE = """<!doctype html><html><head><title>Allies pick Tallinn for drone depot</title>
<meta property="og:site_name" content="Harbour Gazette">
<meta name="author" content="Mirela Quast">
<meta property="article:published_time" content="2025-03-03T10:00:00Z"></head>
<body><nav><a href="/">Home</a> | <a href="/world">World</a></nav>
<div id="cookies">We use cookies. <button>Accept all</button></div>
<article><h1>Allies pick Tallinn for drone depot</h1>
<p>The Quillon drone depot will be built in Tallinn, the alliance's logistics board decided on
Monday after a two-year search.</p>
<p>The depot is expected to store about 4,000 interceptor drones for Ukraine and to open in the
spring of 2026.</p></article>
<footer>© 2025 Harbour Gazette</footer></body></html>
"""
