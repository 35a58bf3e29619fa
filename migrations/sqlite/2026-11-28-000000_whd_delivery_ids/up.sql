-- Webhook delivery ids take the API contract's prefix: `whd_`, not `dlv_`.
--
-- Ids already stored are renamed in place, keeping what follows the prefix
-- (`dlv_X` becomes `whd_X`), so a client that kept an old id can find the
-- delivery again. Attempts point at their delivery by `seq`, not by id, so
-- nothing else changes. Run twice, it finds nothing left to rename.
UPDATE webhook_deliveries
SET id = 'whd_' || substr(id, 5)
WHERE substr(id, 1, 4) = 'dlv_';
