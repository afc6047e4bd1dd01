"""Support code of the tests and the benchmarks, written once: waits, MQTT clients, child processes, the
victoria-metrics runner.

It exists so that a helper is not copied from one test module to the next, and so that `bench/` never imports
`tests/` (a benchmark is not a test, and pytest's packages are not a library). Production code (`profiles`,
`devices`, `controller`, `firmware_sim`, `api`) never imports it: tests/unit/test_layering.py checks both.

Its modules are imported one by one (this file imports none of them): `testkit.processes` uses the standard library
only, so `bench/_hostile.py`, which measures older trees, can use it without importing anything of the project.
"""
