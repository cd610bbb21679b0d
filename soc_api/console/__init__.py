"""The analysts' console: server-rendered pages, no front-end build step."""
