"""The referrals HTTP API: :mod:`.referrals` (make, list and read referrals) and :mod:`.transitions`
(the commands that move a referral through its life). Validate -> command -> view; thin on purpose.

Every change commits the referral, its history, its due dates and its event (outbox) in one
transaction; nothing is published to Kafka from here.
"""
