"""The safety roll call (安否確認) and staffing calls (防災体制の参集): a question to every
person on the roster in a direct message, answers by reaction, reply or poll, one tally
message in the disaster office's room, re-sends, escalation and a CSV for the officers."""
