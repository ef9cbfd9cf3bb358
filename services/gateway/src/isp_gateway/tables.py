"""The gateway keeps no state of its own: it publishes straight to the broker and answers once the
broker has acknowledged. Its database holds only the tables every service has (isp_common.tables)."""
