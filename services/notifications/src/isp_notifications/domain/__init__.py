"""The notifications service's rules, with no I/O and no framework: who may be told what
(:mod:`.policy`), the shape of a share (:mod:`.shares`), consents (:mod:`.consents`),
conference notice and reports (:mod:`.conferences`), webhook retries and heartbeats
(:mod:`.delivery`), which webhook URLs are allowed (:mod:`.webhook_urls`), and the refusals
(:mod:`.errors`)."""
