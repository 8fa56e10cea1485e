//! The wire contract between the broker and its peers (`cliente`, `atendente`, tests, load tools).
//!
//! Everything that crosses the network is defined here and nowhere else: the two frame enums
//! named by direction ([`ParaBroker`], [`DoBroker`]), the postcard codec over 4-byte
//! length-delimited frames ([`codec`]), the validation rules both sides apply to names and chat
//! text ([`validacao`]), the rate both sides keep to ([`ritmo`]), the same frames over WebSocket ([`websocket`]), and a small
//! async client handle ([`Conexao`]), which reaches whichever of a cluster's brokers is active
//! ([`enderecos`]). `PROTOCOL.md` at the
//! repository root describes the same contract byte by byte.

pub mod cliente;
pub mod codec;
pub mod enderecos;
pub mod quadros;
pub mod ritmo;
pub mod tls;
pub mod validacao;
pub mod websocket;

pub use cliente::{Conexao, Envio, ErroConexao, Eventos, Ligacao};
pub use codec::{TAMANHO_MAXIMO_QUADRO, enquadrar};
pub use quadros::{
    ANTERIORES_MAXIMO, Anterior, Apresentacao, CAPACIDADE_MAXIMA, CodigoErro, Destino, DoBroker,
    EstadoAtendente, Fala, Ficha, MotivoFim, NA_ESPERA_MAXIMO, Painel, PainelAtendente,
    PainelConversa, PainelDepartamento, Papel, ParaBroker, Retomada, SessaoId, TRANSCRICAO_MAXIMA,
    VERSAO_PROTOCOLO,
};

/// The TCP port the broker listens on unless told otherwise.
pub const PORTA_PADRAO: u16 = 7878;

/// The address the broker listens on, and the apps connect to, unless told otherwise.
pub const ENDERECO_PADRAO: &str = "127.0.0.1:7878";

/// The department a customer joins, and an agent serves, unless it says otherwise.
pub const DEPARTAMENTO_PADRAO: &str = "geral";
