-- The sender's own number for each chat line (Mensagem.seq in PROTOCOL.md; 0 when the client
-- did not number it). A broker restarted after a crash reads it to know which lines it had
-- already accepted from each peer, so a line sent again is not stored or relayed twice.

ALTER TABLE mensagens ADD COLUMN seq_remetente BIGINT NOT NULL DEFAULT 0;
