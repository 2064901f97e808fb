"""On-call: who is paged, in which order and through which channel (docs/oncall.md).

`declaration` holds the compiled response declaration the steps load; `rotation` answers "who
is on call" (wall-clock arithmetic, working hours, overrides); `overrides` keeps the run-time
overrides in DynamoDB; `response_plans` picks the plan for an incident; `engagement` runs one
escalation plan as pure state on the incident; `paging` delivers one page to one channel.
"""
