-- The customer's rating of a chat its agent ended (1 to 5), and when it gave it; NULL when it
-- gave none (rule 23 of the matchmaking).

ALTER TABLE conversas ADD COLUMN nota BIGINT;
ALTER TABLE conversas ADD COLUMN avaliada_em BIGINT;
