"""What intake does on each request and on each message a channel delivers, one module per concern. No HTTP
here: the API turns results and errors into responses. Each attempt at a request's database work runs in one
unit of work (``context.Context.uow``, services/intake/unit_of_work.py), so the flows run on PostgreSQL or in
memory alike.

- ``context``: what the handlers need (the unit of work, the kecamatan, the document store, clock and ids),
  and the retry budget of a request;

- ``submissions``: a complaint submitted (the web form, with or without files; staff's entry; Open311), with its
  idempotency key and attachments;
- ``inbound``: the common path of a message arriving on a channel (dedupe, route, a reply to a complaint
  awaiting documents or a new complaint);
- ``channels``: each channel's way in (SMS, e-mail, WhatsApp);
- ``statuses``: WhatsApp's delivery statuses of our own messages, handed to notify;
- ``tracking``: a complaint's public status by tracking code;
- ``attachments``: an attachment staff may download;
- ``health``: the outbox's health.
"""
