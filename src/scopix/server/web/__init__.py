"""The web page: server-rendered HTML and a little vanilla JavaScript, no build step.

The page holds the API key in the browser's session storage and sends it as a Bearer header:
the HTML fragments it fetches are authenticated like the API, and images come through signed,
expiring links because an `<img>` cannot send a header.
"""
