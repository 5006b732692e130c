"""What notify does with each message on its queue (the handler table: ``entrypoints/worker.py``) and with
each command of a person (``cli.py``), one module per concern; the rules they apply, without I/O, are in
``domain/`` (``plan.py``: which messages; ``delivery.py``: a message's states, backoff, receipts, reports).
They take a ``Context`` (``context.py``) and read and write in units of work (``ctx.uow()``,
services/notify/unit_of_work.py: PostgreSQL in the processes, dicts in tests/unit/test_notify_flow.py), one per
step: the claim is one unit, the provider is called outside any, its outcome is written in another.

**Planning** (``planning.py``: ``plan_event``, ``escalate``, ``NewWork``; ``throttling.py``): which messages each
event of the workflow calls for.

To the complainant (on their own channel, see domain/plan.py): the acknowledgment with the tracking
code and the receipt link (``ComplaintReceived``), the request for documents (step 2), the referral
notice (step 4: to whom, why, and until when the kecamatan follows it) and its end (the receiving office's
answer, ``ReferralAnswered``, or no answer by then, ``ReferralLapsed``: where to ask), the signed letter (step 12: ``ResponseDispatched``; by e-mail with the PDF attached,
by SMS and WhatsApp with its verification link), and the closure as incomplete, rejected or withdrawn.

To staff: the new work waiting on their role, for those who asked for it (``notify_new_work``; planned from the
store in rounds by the projections process, ``services/notify/new_work.py``, not a task per event), a keberatan to
the Camat (``ObjectionRaised``), and overdue alerts (``StepOverdue``) to the responsible role and its superior, always: recorded in
``notify.escalations`` (one row per event and user) and sent to those with a contact.

Planning writes the delivery rows (one per message: a redelivered event adds nothing) and makes each
first attempt at once; retries go through the queue. The sending part makes every send happen once.

**Sending** (``sending.py``: ``send_delivery``; ``outcomes.py``: ``record_outcome``; ``statuses.py``:
``record_status``; ``reports.py``): one message exactly once over at-least-once delivery.

Each message is a row in ``notify.deliveries`` whose id is its idempotency key (source event, kind,
channel, recipient). A send goes through these states::

    pending --claim--> sending --provider accepted--> sent --delivery receipt--> delivered
                          |--transient error--> pending (next_attempt_at: backoff with jitter) ... failed
                          |--permanent error--> failed
                          '--worker died--> (lease runs out) reconcile: ask the provider by our reference
                                              found: sent | never got it: pending | cannot tell: unknown

- the claim (``pending`` to ``sending``) is one UPDATE under the row lock: of five copies of a task
  running at once, one sends and four see ``sending`` and stop;
- the provider call happens outside any transaction; its outcome is written only if our claim still
  holds (``sending_since`` unchanged), so a late worker cannot overwrite a reconciliation;
- once the provider has answered, only the write is retried (a database blip must not turn a message the
  provider took into ``unknown``): for ``notify_outcome_write_seconds`` at most (within the task's time
  limit), then the answer is handed on as a ``notify.record_outcome`` task that a worker writes when the
  database is back (and logged with the provider's reference); an answer that lands after a
  reconciliation left the row ``unknown`` still settles it;
- a ``sending`` row whose lease ran out is never sent again blindly: the provider is asked first
  (``Channel.lookup``), and a provider that cannot tell leaves it ``unknown`` for a person to decide;
- transient failures come back after ``base * 2^(attempt-1)`` seconds (capped, times 0.5-1.5 jitter);
  after ``notify_max_attempts`` the message is ``failed``. The scheduler's sweeps re-enqueue due rows,
  rows whose task was lost, and reports the broker did not take;
- every end state of a message to the complainant is reported to the workflow (``NotificationReport``,
  one id per delivery and state), which puts it on the complaint's history.

**Erasure** (``erasure.py``: ``erase_personal_data``; the rules in ``domain/erasure.py``): a complainant's
personal data erased (``workflow.PersonalDataErased``, docs/adr/0017) leaves the complaint's deliveries with what
the audit needs (kind, channel, state, times, the provider's reference) and nothing that reaches or names the
complainant; a message not yet sent is not sent any more; the dead letters and the reports waiting for the
workflow lose the complainant's values too.

**A person's commands** (``pengaduan deliveries ...``: ``deliveries_admin.py``; ``pengaduan templates ...``:
``templates_admin.py``): the messages notify could not settle (list them, send one again, or record that one
did arrive, after asking the complainant); the message templates, edited for a kabupaten's every kecamatan
(``*``) or for one kecamatan (checked before they are stored: it renders with the kind's variables, an e-mail
one has a subject; a warning says when an SMS would no longer fit one segment).
"""
