//! Framing and encoding: postcard values inside 4-byte big-endian length-delimited frames.
//!
//! The byte framing is tokio-util's `LengthDelimitedCodec`; the value encoding is a small
//! postcard codec plugged into tokio-serde. Decoding rejects trailing bytes, and every decoding
//! failure is an `io::Error` of kind `InvalidData`, so a reader can tell a bad peer from a broken
//! connection with [`classificar_erro`].

use std::io;
use std::marker::PhantomData;
use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{
    Decoder, Framed, LengthDelimitedCodec, length_delimited::LengthDelimitedCodecError,
};

use crate::CodigoErro;

/// Largest frame body, in bytes, that either side sends or accepts unless configured otherwise.
pub const TAMANHO_MAXIMO_QUADRO: usize = 64 * 1024;

/// A transport carrying typed frames: `Entrada` values are read, `Saida` values are written.
pub type Quadros<T, Entrada, Saida> =
    tokio_serde::Framed<Framed<T, LengthDelimitedCodec>, Entrada, Saida, Postcard<Entrada, Saida>>;

/// Wraps a byte stream so that it reads `Entrada` frames and writes `Saida` frames, refusing
/// frames (either way) whose body exceeds `tamanho_maximo` bytes.
pub fn enquadrar<T, Entrada, Saida>(io: T, tamanho_maximo: usize) -> Quadros<T, Entrada, Saida>
where
    T: AsyncRead + AsyncWrite,
{
    tipar(delimitar(io, tamanho_maximo))
}

/// How many bytes a connection's read and write buffers start with. They grow as the frames
/// that pass through them require and keep that size; an idle waiting customer only ever sees a
/// handshake, position updates and heartbeats, so its buffers stay this small. (tokio-util's
/// default is 8 KiB each, which dominated a waiting customer's memory in the broker.)
pub const BUFFER_INICIAL: usize = 64;

/// Bytes of encoded frames written in one batch before the writer flushes to the socket.
pub const LOTE_DE_ESCRITA: usize = 8 * 1024;

/// Wraps a byte stream into untyped frames (bodies as bytes), for code that must look at a
/// body before decoding it, such as the broker reading a handshake.
pub fn delimitar<T: AsyncRead + AsyncWrite>(
    io: T,
    tamanho_maximo: usize,
) -> Framed<T, LengthDelimitedCodec> {
    let codec = LengthDelimitedCodec::builder()
        .length_field_length(4)
        .big_endian()
        .max_frame_length(tamanho_maximo)
        .new_codec();
    let mut quadros = Framed::with_capacity(io, codec, BUFFER_INICIAL);
    quadros.set_backpressure_boundary(LOTE_DE_ESCRITA);
    quadros
}

/// Turns untyped frames into typed ones, keeping anything already buffered.
pub fn tipar<T, Entrada, Saida>(
    bytes: Framed<T, LengthDelimitedCodec>,
) -> Quadros<T, Entrada, Saida>
where
    T: AsyncRead + AsyncWrite,
{
    tokio_serde::Framed::new(bytes, Postcard::default())
}

/// The protocol version a handshake body claims, read from its stable prefix (variant 0, then
/// the version), even when the rest of the body is from a version this crate cannot decode.
/// `None` when the body does not start like a handshake.
pub fn versao_da_apresentacao(corpo: &[u8]) -> Option<u16> {
    match postcard::take_from_bytes::<(u32, u16)>(corpo) {
        Ok(((0, versao), _)) => Some(versao),
        _ => None,
    }
}

/// The postcard codec for tokio-serde: decodes `Entrada`, encodes `Saida`.
pub struct Postcard<Entrada, Saida> {
    /// Only ties the codec to its two frame types; holds nothing.
    tipos: PhantomData<fn() -> (Entrada, Saida)>,
}

impl<Entrada, Saida> Default for Postcard<Entrada, Saida> {
    fn default() -> Self {
        Postcard { tipos: PhantomData }
    }
}

impl<Entrada: DeserializeOwned, Saida> tokio_serde::Deserializer<Entrada>
    for Postcard<Entrada, Saida>
{
    type Error = io::Error;

    fn deserialize(self: Pin<&mut Self>, src: &BytesMut) -> Result<Entrada, io::Error> {
        decodificar(src)
    }
}

impl<Entrada, Saida: Serialize> tokio_serde::Serializer<Saida> for Postcard<Entrada, Saida> {
    type Error = io::Error;

    fn serialize(self: Pin<&mut Self>, item: &Saida) -> Result<Bytes, io::Error> {
        codificar(item)
    }
}

/// Decodes one frame body; the whole body must be one value, with nothing after it.
pub fn decodificar<T: DeserializeOwned>(corpo: &[u8]) -> io::Result<T> {
    let (valor, resto) = postcard::take_from_bytes(corpo)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    if resto.is_empty() {
        Ok(valor)
    } else {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} bytes a mais depois do quadro", resto.len()),
        ))
    }
}

/// Encodes one frame body.
pub fn codificar<T: Serialize>(valor: &T) -> io::Result<Bytes> {
    postcard::to_stdvec(valor)
        .map(Bytes::from)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Decodes a whole byte stream the way a reader of this protocol does: frame after frame until
/// the bytes run out or the first error (which ends a real connection). Returns the frames read
/// and that error, if any. For the fuzzer and the tests: it must never panic, whatever the bytes.
pub fn decodificar_fluxo<T: DeserializeOwned>(
    bytes: &[u8],
    tamanho_maximo: usize,
) -> (Vec<T>, Option<io::Error>) {
    let mut codec = LengthDelimitedCodec::builder()
        .length_field_length(4)
        .big_endian()
        .max_frame_length(tamanho_maximo)
        .new_codec();
    let mut buffer = BytesMut::from(bytes);
    let mut quadros = Vec::new();
    loop {
        match codec.decode_eof(&mut buffer) {
            Ok(Some(corpo)) => match decodificar(&corpo) {
                Ok(quadro) => quadros.push(quadro),
                Err(erro) => return (quadros, Some(erro)),
            },
            Ok(None) => return (quadros, None),
            Err(erro) => return (quadros, Some(erro)),
        }
    }
}

/// Tells what a read error means for the protocol: `Some` when the peer sent something invalid
/// (and which error to answer with), `None` when the connection itself failed.
pub fn classificar_erro(erro: &io::Error) -> Option<CodigoErro> {
    if erro.kind() != io::ErrorKind::InvalidData {
        return None;
    }
    let grande = erro
        .get_ref()
        .is_some_and(|interno| interno.is::<LengthDelimitedCodecError>());
    Some(if grande {
        CodigoErro::QuadroGrande
    } else {
        CodigoErro::QuadroInvalido
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Apresentacao, DoBroker, MotivoFim, ParaBroker};
    use futures::{SinkExt, StreamExt};

    /// The panel of PROTOCOL.md's example: one department, one agent in one chat.
    fn painel_de_exemplo() -> crate::Painel {
        crate::Painel {
            meta_ms: 20_000,
            departamentos: vec![crate::PainelDepartamento {
                nome: "geral".into(),
                aguardando: 2,
                maior_espera_ms: 1500,
                estimativa_s: Some(90),
                atendentes_online: 1,
                atendentes_em_conversa: 1,
                atendentes_pausados: 0,
                conversas: 1,
                chegadas_hoje: 5,
                atendidos_hoje: 3,
                no_prazo_hoje: 2,
                abandonos_hoje: 1,
            }],
            atendentes: vec![crate::PainelAtendente {
                nome: "Yuri".into(),
                departamentos: vec!["geral".into()],
                capacidade: 1,
                estado: crate::EstadoAtendente::EmConversa,
                ha_ms: 60_000,
                conversas: vec![crate::PainelConversa {
                    conversa: 7,
                    cliente: "Ana".into(),
                    departamento: "geral".into(),
                    ha_ms: 60_000,
                }],
            }],
            omitidos: 0,
        }
    }

    /// The exact body bytes of a few frames, as PROTOCOL.md documents them.
    #[test]
    fn bytes_exatos_de_quadros_conhecidos() {
        let apresentacao = ParaBroker::Apresentacao(Apresentacao::cliente("Ana", "geral"));
        assert_eq!(
            codificar(&apresentacao).unwrap().as_ref(),
            b"\x00\x0c\x03Ana\x00\x05geral\x00\x00"
        );

        let atendente = ParaBroker::Apresentacao(
            Apresentacao::atendente("Yuri", vec!["geral".into(), "vendas".into()], "abc")
                .com_capacidade(3),
        );
        assert_eq!(
            codificar(&atendente).unwrap().as_ref(),
            b"\x00\x0c\x04Yuri\x01\x02\x05geral\x06vendas\x03\x01\x03abc\x00"
        );
        assert_eq!(
            codificar(&DoBroker::BemVindo {
                sessao: 5,
                batimento_ms: 15_000,
                ficha: [0xab; 16],
                tolerancia_ms: 60_000,
                retomada: false,
                ultima_aceita: 0,
                mensagens_por_segundo: 10,
                rajada: 20,
                capacidade: 3,
            })
            .unwrap()
            .as_ref(),
            [
                &b"\x00\x05\x98\x75"[..],
                &[0xab; 16],
                b"\xe0\xd4\x03\x00\x00\x0a\x14\x03"
            ]
            .concat()
        );
        let mut retomada = Apresentacao::cliente("Ana", "geral");
        retomada.retomar = Some(crate::Retomada {
            ficha: [1; 16],
            recebidos: 3,
        });
        assert_eq!(
            codificar(&ParaBroker::Apresentacao(retomada))
                .unwrap()
                .as_ref(),
            [
                &b"\x00\x0c\x03Ana\x00\x05geral\x00\x01"[..],
                &[1; 16],
                b"\x03"
            ]
            .concat()
        );
        assert_eq!(
            codificar(&ParaBroker::Recebidos { total: 130 })
                .unwrap()
                .as_ref(),
            b"\x07\x82\x01"
        );
        assert_eq!(
            codificar(&DoBroker::Confirmada { seq: 2 })
                .unwrap()
                .as_ref(),
            b"\x0a\x02"
        );
        assert_eq!(
            codificar(&DoBroker::Parceiro {
                conversa: 7,
                conectado: false
            })
            .unwrap()
            .as_ref(),
            b"\x0b\x07\x00"
        );
        assert_eq!(codificar(&DoBroker::Ping).unwrap().as_ref(), b"\x08");
        assert_eq!(
            codificar(&DoBroker::Anteriores {
                conversa: 9,
                conversas: vec![crate::Anterior {
                    conversa: 4,
                    inicio_ms: 1_000,
                    departamento: "geral".into(),
                    atendente: "Yuri".into(),
                    motivo: Some(MotivoFim::ClienteSaiu),
                    mensagens: 6,
                }],
            })
            .unwrap()
            .as_ref(),
            b"\x09\x09\x01\x04\xe8\x07\x05geral\x04Yuri\x01\x00\x06"
        );
        assert_eq!(codificar(&ParaBroker::Pong).unwrap().as_ref(), b"\x06");

        assert_eq!(
            codificar(&ParaBroker::Mensagem {
                conversa: 7,
                texto: "olá".into(),
                seq: 1,
            })
            .unwrap()
            .as_ref(),
            b"\x01\x07\x04ol\xc3\xa1\x01"
        );
        assert_eq!(
            codificar(&ParaBroker::Encerrar {
                conversa: 7,
                seq: 4
            })
            .unwrap()
            .as_ref(),
            b"\x02\x07\x04"
        );
        assert_eq!(
            codificar(&ParaBroker::Sair { seq: 0 }).unwrap().as_ref(),
            b"\x03\x00"
        );
        assert_eq!(
            codificar(&ParaBroker::Pausar { seq: 2 }).unwrap().as_ref(),
            b"\x04\x02"
        );
        assert_eq!(
            codificar(&ParaBroker::Voltar { seq: 300 })
                .unwrap()
                .as_ref(),
            b"\x05\xac\x02"
        );
        assert_eq!(
            codificar(&DoBroker::Espera { clientes: 3 })
                .unwrap()
                .as_ref(),
            b"\x06\x03"
        );
        assert_eq!(
            codificar(&DoBroker::Pausa { pausado: true })
                .unwrap()
                .as_ref(),
            b"\x07\x01"
        );
        assert_eq!(
            codificar(&DoBroker::Fila {
                posicao: 300,
                atendentes: 1,
                estimativa_s: None
            })
            .unwrap()
            .as_ref(),
            b"\x01\xac\x02\x01\x00"
        );
        assert_eq!(
            codificar(&DoBroker::Fila {
                posicao: 3,
                atendentes: 2,
                estimativa_s: Some(240)
            })
            .unwrap()
            .as_ref(),
            b"\x01\x03\x02\x01\xf0\x01"
        );
        assert_eq!(
            codificar(&DoBroker::Departamentos {
                nomes: vec!["geral".into(), "vendas".into()]
            })
            .unwrap()
            .as_ref(),
            b"\x0e\x02\x05geral\x06vendas"
        );
        assert_eq!(
            codificar(&DoBroker::NaEspera {
                conversa: 7,
                textos: vec!["oi".into(), "tem frete?".into()]
            })
            .unwrap()
            .as_ref(),
            b"\x0f\x07\x02\x02oi\x0atem frete?"
        );
        assert_eq!(
            codificar(&ParaBroker::Avaliar {
                conversa: 7,
                nota: 5,
                seq: 4
            })
            .unwrap()
            .as_ref(),
            b"\x09\x07\x05\x04"
        );
        assert_eq!(
            codificar(&DoBroker::Avaliacao {
                conversa: 7,
                prazo_s: 120
            })
            .unwrap()
            .as_ref(),
            b"\x10\x07\x78"
        );
        assert_eq!(
            codificar(&DoBroker::erro(CodigoErro::AvaliacaoInvalida))
                .unwrap()
                .as_ref()[..2],
            b"\x05\x13"[..]
        );
        assert_eq!(
            codificar(&ParaBroker::Apresentacao(Apresentacao::supervisor(
                "Rita", "sup"
            )))
            .unwrap()
            .as_ref(),
            b"\x00\x0c\x04Rita\x02\x01\x03sup\x00"
        );
        assert_eq!(
            codificar(&DoBroker::Painel(Box::new(painel_de_exemplo())))
                .unwrap()
                .as_ref(),
            &b"\x11\xa0\x9c\x01\x01\x05geral\x02\xdc\x0b\x01\x5a\x01\x01\x00\x01\x05\x03\x02\x01\
               \x01\x04Yuri\x01\x05geral\x01\x01\xe0\xd4\x03\x01\x07\x03Ana\x05geral\xe0\xd4\x03\x00"[..]
        );
        assert_eq!(
            codificar(&DoBroker::erro(CodigoErro::EsperaCheia))
                .unwrap()
                .as_ref()[..2],
            b"\x05\x12"[..]
        );
        assert_eq!(
            codificar(&DoBroker::Conectado {
                com: "Yuri".into(),
                conversa: 7,
                departamento: "geral".into(),
                espera_ms: 1500,
            })
            .unwrap()
            .as_ref(),
            b"\x02\x04Yuri\x07\x05geral\xdc\x0b"
        );
        assert_eq!(
            codificar(&DoBroker::Fim {
                conversa: 7,
                motivo: MotivoFim::AtendenteDesconectou
            })
            .unwrap()
            .as_ref(),
            b"\x04\x07\x04"
        );
        assert_eq!(
            codificar(&DoBroker::Fim {
                conversa: 9,
                motivo: MotivoFim::SemResposta
            })
            .unwrap()
            .as_ref(),
            b"\x04\x09\x06"
        );
        assert_eq!(
            codificar(&DoBroker::Fim {
                conversa: 9,
                motivo: MotivoFim::Transferido
            })
            .unwrap()
            .as_ref(),
            b"\x04\x09\x07"
        );
        assert_eq!(
            codificar(&ParaBroker::Transferir {
                conversa: 7,
                destino: crate::Destino::Atendente("Zoe".into()),
                seq: 3,
            })
            .unwrap()
            .as_ref(),
            b"\x08\x07\x01\x03Zoe\x03"
        );
        assert_eq!(
            codificar(&ParaBroker::Transferir {
                conversa: 7,
                destino: crate::Destino::Departamento("vendas".into()),
                seq: 0,
            })
            .unwrap()
            .as_ref(),
            b"\x08\x07\x00\x06vendas\x00"
        );
        assert_eq!(
            codificar(&DoBroker::Transferido {
                conversa: 7,
                para: "vendas".into(),
            })
            .unwrap()
            .as_ref(),
            b"\x0c\x07\x06vendas"
        );
        assert_eq!(
            codificar(&DoBroker::Transcricao {
                conversa: 7,
                omitidas: 0,
                falas: vec![crate::Fala {
                    de: "Ana".into(),
                    do_atendente: false,
                    texto: "oi".into(),
                }],
            })
            .unwrap()
            .as_ref(),
            b"\x0d\x07\x00\x01\x03Ana\x00\x02oi"
        );
        assert_eq!(
            codificar(&DoBroker::erro(CodigoErro::TransferenciaRecusada))
                .unwrap()
                .as_ref()[..2],
            b"\x05\x11"[..]
        );
        assert_eq!(
            codificar(&DoBroker::Mensagem {
                conversa: 7,
                de: "Yuri".into(),
                texto: "olá".into(),
            })
            .unwrap()
            .as_ref(),
            b"\x03\x07\x04Yuri\x04ol\xc3\xa1"
        );
        assert_eq!(
            codificar(&DoBroker::erro(CodigoErro::SemConversa))
                .unwrap()
                .as_ref()[..3],
            b"\x05\x08\x20"[..]
        );
    }

    #[test]
    fn fluxo_le_ate_o_primeiro_erro() {
        let mut bytes = b"\x00\x00\x00\x02\x03\x00\x00\x00\x00\x03\x02\x01\x00".to_vec();
        let (quadros, erro) = decodificar_fluxo::<ParaBroker>(&bytes, 64);
        assert_eq!(
            quadros,
            vec![
                ParaBroker::Sair { seq: 0 },
                ParaBroker::Encerrar {
                    conversa: 1,
                    seq: 0
                }
            ]
        );
        assert!(erro.is_none());
        bytes.extend_from_slice(b"\x00\x00\x00\x01\x09\x00\x00\x00\x01\x03");
        let (quadros, erro) = decodificar_fluxo::<ParaBroker>(&bytes, 64);
        assert_eq!(quadros.len(), 2);
        assert_eq!(
            classificar_erro(&erro.unwrap()),
            Some(CodigoErro::QuadroInvalido)
        );
        let (_, erro) = decodificar_fluxo::<ParaBroker>(b"\x00\x01\x00\x00", 64);
        assert_eq!(
            classificar_erro(&erro.unwrap()),
            Some(CodigoErro::QuadroGrande)
        );
        // Half a frame at the end of the stream is an error, not a frame.
        let (quadros, erro) = decodificar_fluxo::<ParaBroker>(b"\x00\x00\x00\x05\x01", 64);
        assert!(quadros.is_empty() && erro.is_some());
    }

    #[test]
    fn bytes_a_mais_sao_recusados() {
        let erro = decodificar::<ParaBroker>(b"\x03\x00\x00").unwrap_err();
        assert_eq!(erro.kind(), io::ErrorKind::InvalidData);
        assert_eq!(classificar_erro(&erro), Some(CodigoErro::QuadroInvalido));
    }

    #[test]
    fn versao_lida_mesmo_de_apresentacao_desconhecida() {
        assert_eq!(
            versao_da_apresentacao(b"\x00\x02\x03Ana\x00\x05geral"),
            Some(2)
        );
        assert_eq!(versao_da_apresentacao(b"\x00\x07\xff\xff"), Some(7));
        assert_eq!(versao_da_apresentacao(b"\x01\x01"), None);
        assert_eq!(versao_da_apresentacao(b""), None);
    }

    /// PROTOCOL.md's rules for varints, `bool` and `option` bytes, as the broker applies them.
    #[test]
    fn varints_bools_and_options_as_protocol_md_says() {
        // A longer form of a small number is accepted: `80 00` is 0.
        assert!(matches!(
            decodificar::<ParaBroker>(b"\x07\x80\x00"),
            Ok(ParaBroker::Recebidos { total: 0 })
        ));
        // A u16 that does not fit (`ff ff 04`), or one of 4 bytes, is invalid.
        let versao_grande = b"\x00\xff\xff\x04\x03Ana\x00\x05geral\x00\x00";
        assert!(decodificar::<ParaBroker>(versao_grande).is_err());
        assert!(
            decodificar::<ParaBroker>(b"\x00\x8c\x80\x80\x00\x03Ana\x00\x05geral\x00\x00").is_err()
        );
        // A bool or option byte other than 00 and 01 is invalid.
        assert!(decodificar::<DoBroker>(b"\x07\x02").is_err());
        assert!(decodificar::<DoBroker>(b"\x01\x01\x01\x02\x05").is_err());
        assert!(matches!(
            decodificar::<DoBroker>(b"\x07\x01"),
            Ok(DoBroker::Pausa { pausado: true })
        ));
    }

    #[test]
    fn variante_desconhecida_e_invalida() {
        let erro = decodificar::<ParaBroker>(b"\x09").unwrap_err();
        assert_eq!(erro.kind(), io::ErrorKind::InvalidData);
    }

    #[tokio::test]
    async fn quadro_inteiro_tem_prefixo_de_tamanho_big_endian() {
        let (a, mut b) = tokio::io::duplex(1024);
        let mut escrita = enquadrar::<_, DoBroker, ParaBroker>(a, 64);
        escrita.send(ParaBroker::Sair { seq: 0 }).await.unwrap();
        escrita
            .send(ParaBroker::Apresentacao(Apresentacao::cliente(
                "Ana", "geral",
            )))
            .await
            .unwrap();
        let mut lido = [0u8; 25];
        tokio::io::AsyncReadExt::read_exact(&mut b, &mut lido)
            .await
            .unwrap();
        assert_eq!(
            lido,
            *b"\x00\x00\x00\x02\x03\x00\x00\x00\x00\x0f\x00\x0c\x03Ana\x00\x05geral\x00\x00"
        );
    }

    #[tokio::test]
    async fn quadro_grande_e_recusado_nos_dois_sentidos() {
        let (a, b) = tokio::io::duplex(1024);
        let mut pequeno = enquadrar::<_, DoBroker, ParaBroker>(a, 8);
        let envio = pequeno
            .send(ParaBroker::Mensagem {
                conversa: 1,
                texto: "uma mensagem longa demais".into(),
                seq: 0,
            })
            .await
            .unwrap_err();
        assert_eq!(envio.kind(), io::ErrorKind::InvalidInput);

        let mut grande = enquadrar::<_, DoBroker, ParaBroker>(b, 1024);
        grande
            .send(ParaBroker::Mensagem {
                conversa: 1,
                texto: "uma mensagem longa demais".into(),
                seq: 0,
            })
            .await
            .unwrap();
        let erro = pequeno.next().await.unwrap().unwrap_err();
        assert_eq!(classificar_erro(&erro), Some(CodigoErro::QuadroGrande));
    }
}
