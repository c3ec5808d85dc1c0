"""The test harness: in-process invokes, the local stack as a subprocess, events, seeding, the tiers."""
