"""The processes tests, the soak, the benchmarks and the image tests run, started and stopped
for them: `processes` (a supervisor whose `close` stops everything it started), `service` and
`website` (the two services as configured in production, on free loopback ports), `ports`,
`probes` (HTTP), `metrics` (Prometheus scrapes), `load` (wrk and h2load) and `api` (the only
module here that imports the generated stubs)."""
