"""Moving in from another on-call tool: read its schedules, escalation policies, teams and
routing (`tocsin import <vendor> --plan | --apply`), prove the result against the old tool's
own on-call export (`tocsin import verify`), and write the current on-call configuration out
(`tocsin oncall export`).

A vendor's reader (`adapters.migrate.<vendor>`) turns the tool's API JSON into a `Catalog`;
everything after that is shared: matching people, naming, the plan, the YAML file to merge,
and the shadow comparison."""
