//! Bad input never crashes the broker nor disturbs other sessions: each kind gets an `Erro` and
//! a close, while a pair on the same broker keeps chatting.

use std::time::Duration;

use broker::Config;
use proto::codec::codificar;
use proto::{Apresentacao, CodigoErro, DoBroker, MotivoFim, Papel, ParaBroker};
use tests::{
    Bruto, Par, Participante, TOKEN_DE_TESTE, config_de_teste, esperar_par, iniciar_broker,
    iniciar_broker_com,
};

/// Sends `bytes` on a fresh connection and checks the broker answers `codigo` and closes.
async fn recusa(endereco: std::net::SocketAddr, bytes: &[u8], codigo: CodigoErro) {
    let mut bruto = Bruto::conectar(endereco).await;
    bruto.escrever(bytes).await;
    let mut resposta = bruto.proximo().await;
    // A department refused comes with the list (empty: any name is accepted).
    if codigo == CodigoErro::DepartamentoInvalido {
        assert_eq!(
            resposta,
            Some(DoBroker::Departamentos { nomes: Vec::new() })
        );
        resposta = bruto.proximo().await;
    }
    match resposta {
        Some(DoBroker::Erro { codigo: c, .. }) => assert_eq!(c, codigo, "para {bytes:?}"),
        outro => panic!("esperava o erro {codigo:?} para {bytes:?}, chegou {outro:?}"),
    }
    assert_eq!(bruto.proximo().await, None, "a conexão devia fechar");
}

/// Frames a body with its 4-byte big-endian length.
fn quadro(corpo: &[u8]) -> Vec<u8> {
    let mut bytes = (corpo.len() as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(corpo);
    bytes
}

fn apresentacao(nome: &str, papel: Papel) -> Vec<u8> {
    let token = matches!(papel, Papel::Atendente { .. }).then(|| TOKEN_DE_TESTE.to_owned());
    let corpo = codificar(&ParaBroker::Apresentacao(Apresentacao {
        versao: proto::VERSAO_PROTOCOLO,
        nome: nome.into(),
        papel,
        token,
        retomar: None,
    }))
    .expect("encodes");
    quadro(&corpo)
}

#[tokio::test]
async fn apresentacoes_invalidas_sao_recusadas() {
    let broker = iniciar_broker().await;
    let endereco = broker.endereco();
    let mut par = Par::formar(endereco, "geral").await;
    let cliente = |departamento: &str| Papel::Cliente {
        departamento: departamento.into(),
    };

    // Not a handshake first.
    let mensagem = codificar(&ParaBroker::Mensagem {
        conversa: 1,
        texto: "oi".into(),
        seq: 0,
    })
    .expect("encodes");
    recusa(
        endereco,
        &quadro(&mensagem),
        CodigoErro::ApresentacaoEsperada,
    )
    .await;
    par.conversar().await;
    // Another protocol version, even one whose handshake this broker cannot decode.
    recusa(
        endereco,
        &quadro(b"\x00\x63\xff\xff\xff"),
        CodigoErro::VersaoIncompativel,
    )
    .await;
    // Names and departments.
    recusa(
        endereco,
        &apresentacao("   ", cliente("geral")),
        CodigoErro::NomeInvalido,
    )
    .await;
    recusa(
        endereco,
        &apresentacao(&"x".repeat(65), cliente("geral")),
        CodigoErro::NomeInvalido,
    )
    .await;
    recusa(
        endereco,
        &apresentacao("Ana\u{1b}[2J", cliente("geral")),
        CodigoErro::NomeInvalido,
    )
    .await;
    recusa(
        endereco,
        &apresentacao("Ana", cliente(" ")),
        CodigoErro::DepartamentoInvalido,
    )
    .await;
    let sem_departamento = Papel::Atendente {
        departamentos: vec![],
        capacidade: 1,
    };
    recusa(
        endereco,
        &apresentacao("Bia", sem_departamento),
        CodigoErro::DepartamentoInvalido,
    )
    .await;
    par.conversar().await;
    broker.parar().await;
}

#[tokio::test]
async fn lixo_e_quadros_grandes_sao_recusados() {
    let broker = iniciar_broker().await;
    let endereco = broker.endereco();
    let mut par = Par::formar(endereco, "geral").await;

    // An HTTP request reads as a length of about a gigabyte.
    recusa(
        endereco,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        CodigoErro::QuadroGrande,
    )
    .await;
    par.conversar().await;
    // A frame of the right length with nonsense inside.
    recusa(
        endereco,
        &quadro(&[0xff, 0xff, 0xff, 0xff]),
        CodigoErro::QuadroInvalido,
    )
    .await;
    // A valid handshake followed by trailing bytes in the same frame.
    let mut corpo = codificar(&ParaBroker::Apresentacao(Apresentacao::cliente(
        "Eva", "geral",
    )))
    .expect("encodes")
    .to_vec();
    corpo.push(0);
    recusa(endereco, &quadro(&corpo), CodigoErro::QuadroInvalido).await;
    // A frame over the limit, sent whole.
    let enorme = quadro(&vec![b'a'; proto::TAMANHO_MAXIMO_QUADRO + 1]);
    recusa(endereco, &enorme, CodigoErro::QuadroGrande).await;
    par.conversar().await;
    broker.parar().await;
}

/// A registered session that starts sending garbage is closed with an error and counts as
/// dropped for its partner; the other pair goes on.
#[tokio::test]
async fn lixo_no_meio_da_conversa_encerra_so_aquela_sessao() {
    let broker = iniciar_broker().await;
    let endereco = broker.endereco();
    let mut par = Par::formar(endereco, "geral").await;

    let mut laura = Participante::atendente(endereco, "Laura", &["vendas"]).await;
    let mut bruto = Bruto::conectar(endereco).await;
    bruto
        .escrever(&apresentacao(
            "Beto",
            Papel::Cliente {
                departamento: "vendas".into(),
            },
        ))
        .await;
    assert!(matches!(
        bruto.proximo().await,
        Some(DoBroker::BemVindo { .. })
    ));
    assert!(matches!(
        bruto.proximo().await,
        Some(DoBroker::Conectado { .. })
    ));
    laura.esperar_conexao_com("Beto").await;

    bruto.escrever(&quadro(&[0x08, 0x01])).await;
    assert!(matches!(
        bruto.proximo().await,
        Some(DoBroker::Erro {
            codigo: CodigoErro::QuadroInvalido,
            ..
        })
    ));
    assert_eq!(bruto.proximo().await, None);
    laura.esperar_fim(MotivoFim::ClienteDesconectou).await;
    par.conversar().await;

    // Texts the broker refuses get an error; the session stays.
    for texto in ["", "  \n ", "\u{1b}[2J apaga a tela"] {
        par.cliente.dizer(texto).await;
        assert!(matches!(
            par.cliente.proximo_evento().await,
            DoBroker::Erro {
                codigo: CodigoErro::TextoInvalido,
                ..
            }
        ));
    }
    par.cliente
        .dizer(&"a".repeat(proto::validacao::TEXTO_MAXIMO + 1))
        .await;
    assert!(matches!(
        par.cliente.proximo_evento().await,
        DoBroker::Erro {
            codigo: CodigoErro::TextoInvalido,
            ..
        }
    ));
    // A repeated handshake is refused too, and the session stays.
    par.cliente
        .enviar(ParaBroker::Apresentacao(Apresentacao::cliente(
            "Outra", "geral",
        )))
        .await;
    assert!(matches!(
        par.cliente.proximo_evento().await,
        DoBroker::Erro {
            codigo: CodigoErro::ApresentacaoRepetida,
            ..
        }
    ));
    par.conversar().await;
    broker.parar().await;
}

/// A connection that never introduces itself is told so and closed once the deadline passes.
#[tokio::test]
async fn prazo_de_apresentacao() {
    let broker = iniciar_broker_com(Config {
        prazo_apresentacao: Duration::from_millis(200),
        ..config_de_teste()
    })
    .await;
    let endereco = broker.endereco();
    let mut par = Par::formar(endereco, "geral").await;
    recusa(endereco, b"", CodigoErro::PrazoEsgotado).await;
    // Half a frame is no better.
    recusa(endereco, b"\x00\x00\x00\x10\x00", CodigoErro::PrazoEsgotado).await;
    par.conversar().await;
    broker.parar().await;
}

/// A peer that never reads is cut off once its outbound buffer is full; its partner is told and
/// nobody else waits on it.
#[tokio::test]
async fn consumidor_lento_e_desconectado() {
    let broker = iniciar_broker_com(Config {
        capacidade_saida: 8,
        ..config_de_teste()
    })
    .await;
    let endereco = broker.endereco();
    let mut par = Par::formar(endereco, "geral").await;

    // Laura never reads again after being paired with Beto.
    let mut laura = Participante::atendente(endereco, "Laura", &["vendas"]).await;
    let mut beto = Participante::cliente(endereco, "Beto", "vendas").await;
    esperar_par(&mut beto, &mut laura).await;

    let texto = "x".repeat(proto::validacao::TEXTO_MAXIMO);
    let mut cortada = false;
    for _ in 0..20_000 {
        beto.dizer(&texto).await;
        let aviso = tokio::time::timeout(Duration::from_millis(1), beto.proximo()).await;
        if let Ok(evento) = aviso {
            assert!(matches!(
                evento,
                Some(DoBroker::Fim {
                    motivo: MotivoFim::AtendenteDesconectou,
                    ..
                })
            ));
            cortada = true;
            break;
        }
    }
    assert!(
        cortada,
        "a atendente que não lê devia ter sido desconectada"
    );
    beto.esperar_posicao(1).await;
    par.conversar().await;
    drop(laura);
    broker.parar().await;
}
