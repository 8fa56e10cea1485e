-- Every customer's first wait, once it is over: answered by an agent (atendida 1, terminou_em
-- when its first chat started) or abandoned (atendida 0, terminou_em when it left the line).
-- A customer sent back to its line later is not counted again. `broker relatorio` computes
-- the offered, answered and abandoned customers, the waits and the service level from it.

CREATE TABLE esperas (
    departamento TEXT NOT NULL,
    cliente TEXT NOT NULL,
    entrou_em BIGINT NOT NULL,
    terminou_em BIGINT NOT NULL,
    atendida BIGINT NOT NULL
);

CREATE INDEX esperas_por_entrada ON esperas (entrou_em);
