//! The load tool's scenarios still run end to end (their figures are for BENCHMARKS.md; this
//! only checks that work gets done, never how fast).

use std::time::Duration;

use broker::Config;
use tests::carga::{churn, relay};
use tests::{TOKEN_DE_TESTE, config_de_teste, iniciar_broker_com};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_mede_broker_e_piso() {
    let broker = iniciar_broker_com(Config {
        mensagens_por_segundo: u32::MAX,
        rajada_de_mensagens: u32::MAX,
        ..config_de_teste()
    })
    .await;
    let resultado = relay::executar(
        broker.endereco(),
        TOKEN_DE_TESTE,
        3,
        Duration::from_millis(300),
    )
    .await
    .expect("the relay scenario runs");
    assert!(resultado.broker.idas_e_voltas > 0, "{resultado:?}");
    assert!(resultado.piso.idas_e_voltas > 0, "{resultado:?}");
    let resumo = resultado.resumo();
    assert!(resumo.starts_with("relay: 3 pares"), "{resumo}");
    broker.parar().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_atende_todos_os_clientes() {
    let broker = iniciar_broker_com(Config {
        mensagens_por_segundo: u32::MAX,
        rajada_de_mensagens: u32::MAX,
        web: Some("127.0.0.1:0".parse().expect("valid address")),
        ..config_de_teste()
    })
    .await;
    let forma = churn::Forma {
        atendentes: 3,
        capacidade: 2,
        clientes: 20,
        mensagens: 3,
        simultaneos: 5,
    };
    let resultado = churn::executar(
        broker.endereco(),
        broker.endereco_web(),
        TOKEN_DE_TESTE,
        forma,
    )
    .await
    .expect("every customer is served, over TCP, over WebSocket and through the floor");
    assert!(resultado.broker.sessoes_por_segundo > 0.0, "{resultado:?}");
    let websocket = resultado.websocket.expect("the WebSocket run");
    assert!(websocket.sessoes_por_segundo > 0.0, "{resultado:?}");
    assert!(websocket.ida_e_volta.p50_us > 0, "{resultado:?}");
    assert!(resultado.piso.sessoes_por_segundo > 0.0, "{resultado:?}");
    let resumo = resultado.resumo();
    assert!(
        resumo.starts_with("churn: 3 atendentes (capacidade 2), 20 clientes x 3 mensagens"),
        "{resumo}"
    );
    assert!(resumo.contains("razão websocket/tcp"), "{resumo}");
    broker.parar().await;
}

/// Runs the `carga` binary with `argumentos`, and returns the figures it wrote as JSON.
fn rodar_carga(argumentos: &[&str]) -> serde_json::Value {
    let pasta = std::env::temp_dir().join(format!("carga-{}", std::process::id()));
    std::fs::create_dir_all(&pasta).expect("temp dir");
    let json = pasta.join(format!("{}.json", argumentos[0]));
    let saida = std::process::Command::new(env!("CARGO_BIN_EXE_carga"))
        .args(argumentos)
        .arg("--json")
        .arg(&json)
        .output()
        .expect("carga runs");
    let texto = String::from_utf8_lossy(&saida.stdout);
    assert!(
        saida.status.success(),
        "{texto}\n{}",
        String::from_utf8_lossy(&saida.stderr)
    );
    assert!(texto.starts_with(argumentos[0]), "{texto}");
    let figuras = std::fs::read_to_string(&json).expect("carga wrote its JSON");
    serde_json::from_str(&figuras).expect("valid JSON")
}

#[test]
fn idle_informa_a_posicao_de_todos_e_le_a_memoria_do_broker() {
    let figuras = rodar_carga(&["idle", "--clientes", "300"]);
    assert_eq!(figuras["forma"]["clientes"], 300, "{figuras}");
    assert_eq!(figuras["com_posicao"], 300, "{figuras}");
    // The broker ran in a process of its own and its memory was read there.
    let antes = figuras["memoria_antes"].as_u64().expect("a number");
    let depois = figuras["memoria_depois"].as_u64().expect("a number");
    assert!(antes > 0 && depois >= antes, "{figuras}");
}

#[test]
fn drain_atende_todos_e_conta_as_posicoes() {
    let clientes = 400;
    let figuras = rodar_carga(&[
        "drain",
        "--clientes",
        &clientes.to_string(),
        "--atendentes",
        "4",
    ]);
    let quadros = figuras["quadros_fila"].as_u64().expect("a number");
    let segundos = figuras["segundos_para_esvaziar"]
        .as_f64()
        .expect("a number");
    let tick = figuras["forma"]["tick_ms"].as_f64().expect("a number") / 1000.0;
    // Every customer was told its place on arrival...
    assert!(quadros >= clientes, "{figuras}");
    // ...and after that at most once per tick: position updates do not grow with
    // customers x pairings. (The ticks within the drain: its length over the tick, plus one.)
    let ticks = (segundos / tick).floor() + 1.0;
    let limite = clientes as f64 * ticks + clientes as f64;
    assert!(quadros as f64 <= limite, "{quadros} > {limite}: {figuras}");
}

#[test]
fn estimativa_compara_a_espera_estimada_com_a_real() {
    // A short run: 2 agents holding chats about 0.3 s, 30 customers arriving faster than they
    // are served, so that most wait.
    let figuras = rodar_carga(&[
        "estimativa",
        "--atendentes",
        "2",
        "--clientes",
        "30",
        "--atendimento",
        "300ms",
        "--ocupacao",
        "1.5",
        "--sem-banco",
    ]);
    // Arriving faster than they are served, most customers waited, and once chats had been
    // handled those who waited got an estimate.
    let com = figuras["com_estimativa"].as_u64().expect("a number");
    assert!(com >= 10, "{figuras}");
    // The error is figured from them: its median is at most its 90th percentile.
    let erro = |campo: &str| figuras[campo].as_f64().expect("a number");
    assert!(erro("erro_p50_s") <= erro("erro_p90_s"), "{figuras}");
}

/// `failover` with a frozen active (the harder case: nothing closes, the apps must notice the
/// silence and skip a broker that accepts and never answers): every session resumes on the
/// standby, nothing is lost or doubled, and the thawed active steps down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_retoma_todas_as_sessoes_sem_perder_nada() {
    use tests::bancos::{banco_postgres, largar_esquema};
    use tests::carga::failover;

    let banco = banco_postgres("carga_failover").await;
    let forma = failover::Forma {
        sessoes: 20,
        intervalo: Duration::from_millis(100),
        conversa: Duration::from_millis(500),
        prazo: Duration::from_secs(1),
        batimento: Some(Duration::from_secs(1)),
        congelar: true,
    };
    let executavel = std::path::Path::new(env!("CARGO_BIN_EXE_carga"));
    let resultado = failover::executar(executavel, &banco, forma)
        .await
        .expect("the failover scenario runs");
    assert_eq!(resultado.retomadas, 20, "{resultado:?}");
    assert!(resultado.linhas > 20, "{resultado:?}");
    assert_eq!(
        (resultado.perdidas, resultado.duplicadas),
        (0, 0),
        "{resultado:?}"
    );
    assert_eq!(resultado.antigo_saiu, Some(true), "{resultado:?}");
    largar_esquema("carga_failover").await;
}
