"""``hearthvox hub``: drives Wyoming satellites, as Home Assistant does.

One session per satellite (:mod:`hearthvox.hub.session`), each with its own voice
loop on the shared engines (its own wake and VAD streams), so one satellite's
failure never touches another's. Wake words heard by several satellites at once
are arbitrated (:mod:`hearthvox.hub.arbiter`): one answers. See docs/hub.md.
"""
