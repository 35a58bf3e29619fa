//! Webhook delivery for booking events, per the Standard Webhooks
//! specification: signing, an HTTP transport that refuses private targets,
//! the retry schedule, and the worker that drains the outbox.
