-- A chat its agent did not answer in time goes back to the customer's line and on to the next
-- agent (rule 18 of the matchmaking); the history records it among the transfers, marked 1.

ALTER TABLE transferencias ADD COLUMN sem_resposta BIGINT NOT NULL DEFAULT 0;
