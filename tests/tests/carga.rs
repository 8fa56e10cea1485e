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
    broker.encerrar().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_atende_todos_os_clientes() {
    let broker = iniciar_broker_com(Config {
        mensagens_por_segundo: u32::MAX,
        rajada_de_mensagens: u32::MAX,
        ..config_de_teste()
    })
    .await;
    let forma = churn::Forma {
        atendentes: 3,
        clientes: 20,
        mensagens: 3,
        simultaneos: 5,
    };
    let resultado = churn::executar(broker.endereco(), TOKEN_DE_TESTE, forma)
        .await
        .expect("every customer is served, through the broker and the floor");
    assert!(resultado.broker.sessoes_por_segundo > 0.0, "{resultado:?}");
    assert!(resultado.piso.sessoes_por_segundo > 0.0, "{resultado:?}");
    assert!(
        resultado
            .resumo()
            .starts_with("churn: 3 atendentes, 20 clientes x 3 mensagens")
    );
    broker.encerrar().await;
}
