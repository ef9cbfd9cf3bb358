"""The audit trail's rules, free of I/O: how records are chained and hashed (:mod:`.chain`,
:mod:`.records`), who sees what and how a search is bounded (:mod:`.search`), what a CSV cell
may hold (:mod:`.export`), when the head is signed (:mod:`.checkpointing`), what retention
erases (:mod:`.retention`), what reconciliation compares (:mod:`.reconciliation`), when the
nightly run is due (:mod:`.nightly`), and what is refused (:mod:`.errors`)."""
