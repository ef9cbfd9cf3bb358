"""One module per alert family: each turns its causing events into shares or operational alerts."""
