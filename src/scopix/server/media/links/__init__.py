"""Links: fetching a web page under the SSRF rules (`fetch`), reading it and keeping it."""
