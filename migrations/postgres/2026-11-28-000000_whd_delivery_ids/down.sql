UPDATE webhook_deliveries
SET id = 'dlv_' || substr(id, 5)
WHERE substr(id, 1, 4) = 'whd_';
