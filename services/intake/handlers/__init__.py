"""What intake does on each request and on each message a channel delivers, one module per concern. No HTTP
here: the API turns results and errors into responses.

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
