//! `broker relatorio` against a history the test writes itself, on SQLite and PostgreSQL: the
//! counts add up (offered = answered + abandoned), and the rates, means and 90th percentiles
//! are exactly those of the rows written.

use broker::armazenamento::{Banco, Desempenho, FiltroDesempenho};
use sqlx::AnyPool;
use tests::bancos::{banco_postgres, banco_sqlite, largar_esquema};
use tests::construir_apps;

/// A UTC day far from today, in days since the epoch, and its midnight in milliseconds.
const DIA: i64 = 20_000;
const MS_POR_DIA: i64 = 86_400_000;
const S: i64 = 1000;

fn inicio(dia: i64) -> i64 {
    dia * MS_POR_DIA
}

/// A chat row: id, department, when it started, how long it lasted (none: open), its rating.
type Conversa = (i64, &'static str, i64, Option<i64>, Option<i64>);

/// Writes the history: waits, chats and transfers over two days and two departments.
async fn escrever(url: &str) {
    let pool = AnyPool::connect(url).await.expect("connects");
    let hoje = inicio(DIA) + 3_600 * S;
    let amanha = inicio(DIA + 1) + 7_200 * S;
    // (department, joined, waited, answered)
    let mut esperas: Vec<(&str, i64, i64, i64)> = vec![
        ("geral", hoje, 5 * S, 1),
        ("geral", hoje + S, 10 * S, 1),
        ("geral", hoje + 2 * S, 30 * S, 1),
        ("geral", hoje + 3 * S, 40 * S, 1),
        ("geral", hoje + 4 * S, 50 * S, 0),
        ("vendas", hoje, 25 * S, 1),
    ];
    for i in 1..=10 {
        esperas.push(("geral", amanha + i * S, i * S, 1));
    }
    for (departamento, entrou, espera, atendida) in esperas {
        sqlx::query(
            "INSERT INTO esperas (departamento, cliente, entrou_em, terminou_em, atendida) \
             VALUES ($1, 'c', $2, $3, $4)",
        )
        .bind(departamento)
        .bind(entrou)
        .bind(entrou + espera)
        .bind(atendida)
        .execute(&pool)
        .await
        .expect("writes a wait");
    }
    let conversas: [Conversa; 3] = [
        (1, "geral", hoje, Some(60 * S), Some(4)),
        (2, "geral", hoje + S, Some(120 * S), Some(5)),
        (3, "geral", hoje + 2 * S, None, None),
    ];
    for (id, departamento, inicio, duracao, nota) in conversas {
        sqlx::query(
            "INSERT INTO conversas (id, departamento, cliente, atendente, entrou_em, \
             conectada_em, encerrada_em, motivo, nota) \
             VALUES ($1, $2, 'c', 'a', $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(departamento)
        .bind(inicio)
        .bind(inicio)
        .bind(duracao.map(|d| inicio + d))
        .bind(duracao.map(|_| "atendente_encerrou"))
        .bind(nota)
        .execute(&pool)
        .await
        .expect("writes a chat");
    }
    for (sem_resposta, em) in [(0, hoje + 10 * S), (1, hoje + 20 * S)] {
        sqlx::query(
            "INSERT INTO transferencias (conversa, de, para, em, sem_resposta) \
             VALUES (1, 'a', 'geral', $1, $2)",
        )
        .bind(em)
        .bind(sem_resposta)
        .execute(&pool)
        .await
        .expect("writes a transfer");
    }
}

/// What the rows above must give.
fn esperado() -> Vec<Desempenho> {
    vec![
        Desempenho {
            dia: DIA,
            departamento: "geral".into(),
            oferecidos: 5,
            atendidos: 4,
            abandonos: 1,
            no_prazo: 2,
            espera_total: 85 * S,
            espera_p90: Some(40 * S),
            encerradas: 2,
            duracao_total: 180 * S,
            transferencias: 1,
            sem_resposta: 1,
            notas: 2,
            soma_das_notas: 9,
        },
        Desempenho {
            dia: DIA,
            departamento: "vendas".into(),
            oferecidos: 1,
            atendidos: 1,
            abandonos: 0,
            no_prazo: 0,
            espera_total: 25 * S,
            espera_p90: Some(25 * S),
            ..Desempenho::default()
        },
        Desempenho {
            dia: DIA + 1,
            departamento: "geral".into(),
            oferecidos: 10,
            atendidos: 10,
            abandonos: 0,
            no_prazo: 10,
            espera_total: 55 * S,
            espera_p90: Some(9 * S),
            ..Desempenho::default()
        },
    ]
}

async fn conferir(url: &str) {
    let banco = Banco::abrir(url).await.expect("opens and migrates");
    escrever(url).await;
    let filtro = FiltroDesempenho {
        meta_ms: 20 * S,
        ..FiltroDesempenho::default()
    };
    let linhas = banco.desempenho(&filtro).await.expect("reads");
    assert_eq!(linhas, esperado());
    for linha in &linhas {
        assert_eq!(linha.oferecidos, linha.atendidos + linha.abandonos);
    }
    let geral = &linhas[0];
    assert_eq!(geral.taxa_de_abandono(), Some(0.2));
    assert_eq!(geral.nivel_de_servico(), Some(0.4));
    assert_eq!(geral.espera_media(), Some(21_250.0));
    assert_eq!(geral.duracao_media(), Some(90_000.0));
    assert_eq!(geral.nota_media(), Some(4.5));
    // The filters: one day, one department.
    let so_amanha = FiltroDesempenho {
        desde: Some(inicio(DIA + 1)),
        ..filtro.clone()
    };
    assert_eq!(
        banco.desempenho(&so_amanha).await.expect("reads"),
        esperado()[2..]
    );
    let so_vendas = FiltroDesempenho {
        departamento: Some("vendas".into()),
        ate: Some(inicio(DIA + 1)),
        ..filtro
    };
    assert_eq!(
        banco.desempenho(&so_vendas).await.expect("reads"),
        esperado()[1..2]
    );
}

#[tokio::test]
async fn relatorio_no_sqlite() {
    conferir(&banco_sqlite("relatorio")).await;
}

#[tokio::test]
async fn relatorio_no_postgres() {
    let url = banco_postgres("relatorio").await;
    conferir(&url).await;
    largar_esquema("relatorio").await;
}

#[tokio::test]
async fn o_comando_imprime_o_relatorio_em_csv() {
    let url = banco_sqlite("relatorio-comando");
    Banco::abrir(&url).await.expect("opens and migrates");
    escrever(&url).await;
    let pasta = construir_apps();
    let saida = std::process::Command::new(pasta.join("broker"))
        .args([
            "relatorio",
            "--formato",
            "csv",
            "--meta",
            "30s",
            "--banco",
            &url,
        ])
        .args(["--desde", "2024-10-04", "--ate", "2024-10-04"])
        .output()
        .expect("broker relatorio runs");
    assert!(saida.status.success(), "{saida:?}");
    let texto = String::from_utf8_lossy(&saida.stdout);
    let linhas: Vec<&str> = texto.lines().collect();
    assert_eq!(linhas.len(), 3, "{texto}");
    assert!(linhas[0].starts_with("dia,departamento,oferecidos,atendidos,abandonos"));
    assert_eq!(
        linhas[1],
        "2024-10-04,geral,5,4,1,0.2000,21.250,40.000,3,0.6000,90.000,1,1,4.50"
    );
    assert_eq!(
        linhas[2],
        "2024-10-04,vendas,1,1,0,0.0000,25.000,25.000,1,1.0000,,0,0,"
    );
}
