"""The gateway's rules, pure: what a request may publish (:mod:`.events`); how fast is
:mod:`isp_common.ratelimit`."""
