//! The checks the fuzzer runs on arbitrary input, shared with the regression test that replays
//! the fuzzer's corpus and with the property tests of arbitrary byte streams.
//!
//! Each check takes bytes as a hostile peer could send them and panics only if the broker's code
//! would misbehave on them: a panic in the decoder, an error it cannot classify, a handshake it
//! accepts that is not of this protocol version, or a state machine left inconsistent.

use broker::connection::avaliar_apresentacao;
use broker::matchmaking::{Evento, Matchmaker, Parametros};
use proto::codec::{classificar_erro, decodificar_fluxo};
use proto::{DoBroker, ParaBroker, TAMANHO_MAXIMO_QUADRO, VERSAO_PROTOCOLO};
use std::time::Duration;

/// A byte stream as the broker (and, the other way, a client) reads it.
pub fn verificar_fluxo(bytes: &[u8]) {
    let (quadros, erro) = decodificar_fluxo::<ParaBroker>(bytes, TAMANHO_MAXIMO_QUADRO);
    if let Some(erro) = &erro {
        // Either a protocol error the broker answers with a code, or the stream ended mid-frame.
        assert!(
            classificar_erro(erro).is_some() || erro.kind() == std::io::ErrorKind::Other,
            "erro não classificado: {erro:?}"
        );
    }
    // Whatever decoded must feed a state machine without breaking it.
    if let Some(ParaBroker::Apresentacao(apresentacao)) = quadros.first() {
        let mut maquina = maquina_retomavel();
        let mut agora = Duration::ZERO;
        maquina.aplicar(
            Evento::Entrou {
                sessao: 1,
                apresentacao: apresentacao.clone(),
                ficha: [1; 16],
            },
            agora,
        );
        for quadro in quadros.into_iter().skip(1) {
            agora += Duration::from_millis(1);
            maquina.aplicar(Evento::Recebeu { sessao: 1, quadro }, agora);
        }
        maquina.tick(agora);
        if let Err(problema) = maquina.checar_invariantes() {
            panic!("invariante violado: {problema}");
        }
    }
    let _ = decodificar_fluxo::<DoBroker>(bytes, TAMANHO_MAXIMO_QUADRO);
}

/// A connection's first frame body, as the broker judges it.
pub fn verificar_apresentacao(corpo: &[u8]) {
    match avaliar_apresentacao(corpo) {
        Ok(apresentacao) => {
            assert_eq!(apresentacao.versao, VERSAO_PROTOCOLO);
            let mut maquina = maquina_retomavel();
            maquina.aplicar(
                Evento::Entrou {
                    sessao: 1,
                    apresentacao,
                    ficha: [1; 16],
                },
                Duration::ZERO,
            );
            if let Err(problema) = maquina.checar_invariantes() {
                panic!("invariante violado: {problema}");
            }
        }
        Err(resposta) => assert!(
            matches!(resposta, DoBroker::Erro { .. }),
            "recusa sem erro: {resposta:?}"
        ),
    }
}

/// A state machine with resumes on, so that arbitrary input reaches that part too.
fn maquina_retomavel() -> Matchmaker {
    Matchmaker::com_parametros(Parametros {
        tolerancia: Duration::from_secs(60),
        ..Parametros::default()
    })
}
