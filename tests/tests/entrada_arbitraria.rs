//! Arbitrary input: the fuzzer's corpus replayed, property tests of arbitrary byte streams
//! through the decoder and the handshake check, and arbitrary bytes sent to a live broker that
//! must answer or close each time while a pair on it keeps chatting.

use std::path::PathBuf;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config as ConfigProptest, TestRunner};
use proto::ParaBroker;
use proto::codec::codificar;
use tests::arbitrario::{verificar_apresentacao, verificar_fluxo};
use tests::{Participante, esperar_par, iniciar_broker};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The files of one corpus of the fuzzer.
fn corpus(alvo: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let pasta = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(alvo);
    let mut arquivos: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&pasta)
        .unwrap_or_else(|erro| panic!("sem corpus em {}: {erro}", pasta.display()))
        .map(|entrada| {
            let caminho = entrada.expect("readable entry").path();
            let bytes = std::fs::read(&caminho).expect("readable file");
            (caminho, bytes)
        })
        .collect();
    arquivos.sort();
    assert!(!arquivos.is_empty(), "o corpus {alvo} está vazio");
    arquivos
}

#[test]
fn corpus_do_fuzzer_continua_passando() {
    for (caminho, bytes) in corpus("fluxo") {
        let resultado = std::panic::catch_unwind(|| verificar_fluxo(&bytes));
        assert!(resultado.is_ok(), "fluxo falhou com {}", caminho.display());
    }
    for (caminho, bytes) in corpus("apresentacao") {
        let resultado = std::panic::catch_unwind(|| verificar_apresentacao(&bytes));
        assert!(
            resultado.is_ok(),
            "apresentação falhou com {}",
            caminho.display()
        );
    }
}

/// Streams made of valid frames with bytes flipped, cut or inserted: closer to the bugs that
/// matter than uniform noise.
fn fluxo_quase_valido() -> impl Strategy<Value = Vec<u8>> {
    let quadro = prop_oneof![
        Just(ParaBroker::Apresentacao(proto::Apresentacao::cliente(
            "Ana", "geral"
        ))),
        Just(ParaBroker::Apresentacao(proto::Apresentacao::atendente(
            "Yuri",
            vec!["geral".into()],
            "t"
        ))),
        (0..3u64, "[a-zé😀 ]{0,20}", 0..3u64).prop_map(|(conversa, texto, seq)| {
            ParaBroker::Mensagem {
                conversa,
                texto,
                seq,
            }
        }),
        Just(ParaBroker::Encerrar {
            conversa: 1,
            seq: 0
        }),
        Just(ParaBroker::Pausar { seq: 0 }),
        Just(ParaBroker::Pong),
        (0..4u64).prop_map(|total| ParaBroker::Recebidos { total }),
        any::<[u8; 2]>().prop_map(|[ficha, recebidos]| {
            let mut apresentacao = proto::Apresentacao::cliente("Ana", "geral");
            apresentacao.retomar = Some(proto::Retomada {
                ficha: [ficha; 16],
                recebidos: u64::from(recebidos),
            });
            ParaBroker::Apresentacao(apresentacao)
        }),
    ];
    (
        proptest::collection::vec(quadro, 1..6),
        proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    )
        .prop_map(|(quadros, mudancas)| {
            let mut bytes = Vec::new();
            for quadro in quadros {
                let corpo = codificar(&quadro).expect("encodes");
                bytes.extend_from_slice(&(corpo.len() as u32).to_be_bytes());
                bytes.extend_from_slice(&corpo);
            }
            for (onde, valor) in mudancas {
                let i = onde.index(bytes.len());
                bytes[i] = valor;
            }
            bytes
        })
}

proptest! {
    #![proptest_config(ConfigProptest { cases: 512, .. ConfigProptest::default() })]

    #[test]
    fn bytes_quaisquer_no_decodificador(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        verificar_fluxo(&bytes);
        verificar_apresentacao(&bytes);
    }

    #[test]
    fn quadros_quase_validos_no_decodificador(bytes in fluxo_quase_valido()) {
        verificar_fluxo(&bytes);
        if bytes.len() > 4 {
            verificar_apresentacao(&bytes[4..]);
        }
    }
}

/// Arbitrary bytes on a real connection: the broker answers and closes, or simply closes, each
/// time; it never hangs on them nor lets them disturb a pair that is chatting.
#[test]
fn bytes_quaisquer_num_broker_de_verdade() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (broker, mut cliente, mut atendente) = runtime.block_on(async {
        let broker = iniciar_broker().await;
        let mut atendente = Participante::atendente(broker.endereco(), "Yuri", &["par"]).await;
        let mut cliente = Participante::cliente(broker.endereco(), "Ana", "par").await;
        esperar_par(&mut cliente, &mut atendente).await;
        (broker, cliente, atendente)
    });
    let endereco = broker.endereco();
    let mut runner = TestRunner::new(ConfigProptest {
        cases: 48,
        ..ConfigProptest::default()
    });
    let estrategia = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        fluxo_quase_valido(),
    ];
    runner
        .run(&estrategia, |bytes| {
            runtime.block_on(async {
                let mut socket = TcpStream::connect(endereco).await.expect("connects");
                socket.write_all(&bytes).await.expect("writes");
                socket.shutdown().await.expect("half-closes");
                let mut resto = Vec::new();
                let fim =
                    tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut resto))
                        .await;
                assert!(
                    fim.is_ok(),
                    "o broker não fechou a conexão depois de {bytes:?}"
                );
            });
            Ok(())
        })
        .expect("every stream is answered or closed");
    runtime.block_on(async {
        cliente.dizer("ainda aí?").await;
        atendente.esperar_mensagem("Ana", "ainda aí?").await;
        atendente.dizer("sempre").await;
        cliente.esperar_mensagem("Yuri", "sempre").await;
        broker.parar().await;
    });
}
