#!/usr/bin/env bash
# Walk through the seqflow API against a running `seqflow dev` (http://127.0.0.1:8000).
# Needs curl, jq and openssl. Every name gets a suffix so the script can be run more than once.
set -euo pipefail
API=${API:-http://127.0.0.1:8000}
ADMIN=${SEQFLOW_ADMIN_TOKEN:-dev-admin-token}
EMAIL_SECRET=${SEQFLOW_EMAIL_WEBHOOK_SECRET:-dev-email-webhook-secret}
SMS_TOKEN=${SEQFLOW_SMS_AUTH_TOKEN:-demo-token}  # what `seqflow dev` gives the services and the SMS stub
PUBLIC_URL=${SEQFLOW_PUBLIC_URL:-$API}          # the URL Twilio signs is the service's configured public one
S=$(date +%s)
TOKEN=""  # the server generates it: taken from the POST /users answer below
say() { printf '\n== %s\n' "$*"; }
admin() { curl -sS -H "Authorization: Bearer $ADMIN" -H 'Content-Type: application/json' "$@"; }
alice() { curl -sS -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }

say "create a user (admin token); the answer carries the user's new token, shown this once"
CREATED=$(admin -X POST "$API/users" -d @- <<JSON
{"id": "alice-$S", "name": "Alice Example", "email": "alice@agency.example",
 "permissions": ["sequences:activate", "tasks:mine"]}
JSON
)
echo "$CREATED" | jq -c '{id, permissions, token: (.token[:6] + "...")}'
TOKEN=$(echo "$CREATED" | jq -r .token)
alice "$API/users/me" | jq -c .

say "create a template: email -> call -> SMS"
TEMPLATE=$(alice -X POST "$API/templates" -d @- <<JSON
{"name": "Python outreach $S", "owner": "alice-$S",
 "branches": [{"key": "main", "steps": [
   {"key": "intro", "type": "auto_email",
    "email": {"from_alias": "alice@agency.example", "subject": "Hi {{first_name}}",
              "body": "Hello {{first_name}}, see https://agency.example/jobs"}},
   {"key": "call", "type": "call", "priority": "high", "instructions": "Ask about notice period",
    "script": "Hi {{first_name}}, this is {{user.name}}",
    "conditions": [{"when": "Connected", "then": {"next": true}},
                   {"when": "Not interested", "then": {"exit": "not_interested"}}]},
   {"key": "bump", "type": "auto_sms", "sms": {"body": "Hi {{first_name}}, {{user.name}} here."}}]}]}
JSON
)
echo "$TEMPLATE" | jq -c '{id, name}'
TID=$(echo "$TEMPLATE" | jq -r .id)

say "validate without storing; bad input is a 422 naming the field"
alice -X POST "$API/templates/validate" -d '{"name": "x", "owner": "alice", "branches": [{"key": "main", "steps": [{"key": "a", "type": "auto_email", "delay": "P1M"}]}]}' | jq -c '{error, field}'

say "a rollup list with two contacts"
RID=$(alice -X POST "$API/rollups" -d "{\"name\": \"Candidates $S\"}" | jq -r .id)
alice -X POST "$API/rollups/$RID/members" -d @- <<JSON | jq -c .
{"contacts": [
  {"id": "ada-$S",   "first_name": "Ada",   "last_name": "Lovelace", "email": "ada@candidates.example", "phone": "+15550000001"},
  {"id": "grace-$S", "first_name": "Grace", "last_name": "Hopper",   "email": "grace@candidates.example", "phone": "+15550000002"}]}
JSON

say "activate a sequence (begins today, all days, all day)"
SID=$(alice -X POST "$API/sequences" -d @- <<JSON | jq -r .id
{"name": "Python Q4 $S", "template_id": "$TID", "rollup_id": "$RID",
 "begin": "$(date -u +%F)", "timezone": "UTC", "primary_user": "alice-$S",
 "rate_limits": {"email": {"count": 100, "per": "PT1H"}, "sms": {"count": 20, "per": "PT1H"}}}
JSON
)
alice "$API/sequences/$SID" | jq -c '{id, name, state}'

say "wait for the emails to go out and the call tasks to appear"
for _ in $(seq 60); do
  N=$(alice "$API/tasks?sequence=$SID" | jq '.counts.ALL')
  [ "$N" -ge 2 ] && break; sleep 1
done
alice "$API/tasks?sequence=$SID" | jq -c '.counts, (.tasks[] | {id, contact_name, step, type, priority, due_at})'
TASK=$(alice "$API/tasks?sequence=$SID" | jq -r '.tasks[0].id')

say "task detail: resolved script and the Mark As menu"
alice "$API/tasks/$TASK" | jq -c '{contact_name, location, script, mark_as}'

say "mark it Connected; the answer carries the next task of the list"
alice -X POST "$API/tasks/$TASK/mark" -d '{"outcome": "Connected"}' | jq -c '{task: .task.outcome, next: .next.id}'

say "the queue (enrollments past step one)"
sleep 3
alice "$API/queue?sequence=$SID" | jq -c '.queue[]'

say "a note and the contact's activities"
alice -X POST "$API/contacts/grace-$S/notes" -d '{"text": "Prefers calls after 4pm"}' | jq -c .
alice "$API/contacts/grace-$S/activities" | jq -c '.activities[:4][] | {kind, action, step, outcome, text}'

say "tracking and webhooks: open pixel, click, reply (Message-ID from the mail the SMTP server got)"
# `seqflow dev` runs a local SMTP server that appends each mail as one JSON line to .seqflow/mail.jsonl.
MAIL_FILE=${MAIL_FILE:-.seqflow/mail.jsonl}
if [ -f "$MAIL_FILE" ]; then
  MAIL=$(grep '"ada@candidates.example"' "$MAIL_FILE" | grep "Hi Ada" | tail -1)
  MID=$(echo "$MAIL" | jq -r .message_id)
  LINKS=$(echo "$MAIL" | jq -r .raw | python3 -c '
import email, re, sys
msg = email.message_from_string(sys.stdin.read())
html = [p for p in msg.walk() if p.get_content_type() == "text/html"][0].get_payload(decode=True).decode()
print(" ".join(re.findall(r"/t/[oc]/[^\"]+", html)[:2]))')
  for path in $LINKS; do curl -sS -o /dev/null -w "GET ${path:0:6}... -> %{http_code}\n" "$API$path"; done
  # signed: hex HMAC-SHA256 of "<timestamp>.<raw body>" under SEQFLOW_EMAIL_WEBHOOK_SECRET (README: Webhook set-up)
  BODY="{\"type\": \"replied\", \"message_id\": \"$MID\"}"
  TS=$(date +%s)
  SIG=$(printf '%s.%s' "$TS" "$BODY" | openssl dgst -sha256 -hmac "$EMAIL_SECRET" -r | cut -d' ' -f1)
  curl -sS -X POST "$API/webhooks/email" -H 'Content-Type: application/json' \
    -H "X-Seqflow-Timestamp: $TS" -H "X-Seqflow-Signature: $SIG" -d "$BODY" | jq -c .
fi
say "an inbound SMS STOP (Twilio form post, signed with X-Twilio-Signature)"
SIG=$(printf '%s' "$PUBLIC_URL/webhooks/smsBodySTOPFrom+15550000002" | openssl dgst -sha1 -hmac "$SMS_TOKEN" -binary | base64)
curl -sS -X POST "$API/webhooks/sms" -H "X-Twilio-Signature: $SIG" \
  --data-urlencode "From=+15550000002" --data-urlencode "Body=STOP" | jq -c .

say "pause, resume, end, archive (and a 409)"
alice -X POST "$API/sequences/$SID/pause"  | jq -c '{state}'
alice -X POST "$API/sequences/$SID/pause"  | jq -c .
alice -X POST "$API/sequences/$SID/resume" | jq -c '{state}'
alice "$API/overview" | jq -c --arg id "$SID" '.sequences[] | select(.id == $id)'
alice "$API/metrics/compare?sequence=$SID" | jq -c '.sequences[0] | {median_completion_seconds, conversion}'
alice -X POST "$API/sequences/$SID/end"     | jq -c '{state}'
alice -X POST "$API/sequences/$SID/archive" | jq -c .
