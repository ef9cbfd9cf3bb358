"""The gateway's rules, pure: what a request may publish (:mod:`.events`) and how fast (:mod:`.limits`)."""
