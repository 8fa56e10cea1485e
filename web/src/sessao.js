// sessao.js — a customer's session with the help-desk broker over a WebSocket, for the web page:
// handshake, resumes across drops and page reloads (state kept in a Storage such as
// sessionStorage), numbered lines and commands with an outbox until confirmed, heartbeats, the
// broker's rate, and the session's end. Plain ES module (browsers, Node 20); see web/README.md.
//
// Transport: `ws(s)://HOST/ws`; each binary WebSocket message carries exactly one frame BODY (no
// 4-byte length prefix); everything else is as PROTOCOL.md says.
//
// Events (all `CustomEvent`s, data in `detail`):
// - `estado`: `{ estado: 'conectando' }` (first connection), `{ estado: 'conectado', retomada }`
//   (each accepted handshake, after the `bemvindo` event), `{ estado: 'reconectando', tentativa,
//   atraso_ms }` (a connection was lost; the next attempt is in `atraso_ms`), `{ estado: 'encerrada',
//   motivo }` (once, at the end: `motivo` is the ending `Fim`'s `MotivoFim`, the final `Erro`'s
//   `CodigoErro`, 'SemRetomada' when the connection dropped and the broker keeps no resumes, or
//   'ClienteSaiu' for `sair()` before any session existed, or when a resume after `sair()` is
//   refused because the broker had already let the customer go).  `motivo` is a code, not text.
// - one per frame the UI cares about, `detail` being the decoded frame (see protocolo.js):
//   `bemvindo`, `departamentos`, `fila`, `conectado`, `mensagem`, `fim`, `transferido`,
//   `avaliacao`, `parceiro`, `erro`, `confirmada`.
// - `pendentes`: `{ pendentes: [{ seq, tipo: 'Mensagem', texto } | { seq, tipo: 'Avaliar',
//   conversa, nota } | { seq, tipo: 'Sair' }] }`, whenever the set of unconfirmed lines and
//   commands changes.
//
// Storage: one JSON item under `fila.sessao` (CHAVE_ARMAZENAMENTO):
// `{ versao: 1, nome, departamento, ficha: '32 hex digits' | null, recebidos, proximoSeq,
//    pendentes: [...as above], avaliacao: { conversa, prazo_s } | null, batimento_ms: number | null }`.
// `ficha` null means no session yet (lines typed before the first `BemVindo` are still kept).

import { codificarParaBroker, decodificarDoBroker, VERSAO_PROTOCOLO } from './protocolo.js';

export const CHAVE_ARMAZENAMENTO = 'fila.sessao';

// Quadros numerados do broker (contados em `recebidos`).
const NUMERADOS = new Set(['Conectado', 'Mensagem', 'Fim', 'Transferido', 'Transcricao', 'NaEspera', 'Avaliacao']);

// Quadro -> nome do evento.
const EVENTOS = {
  BemVindo: 'bemvindo', Departamentos: 'departamentos', Fila: 'fila', Conectado: 'conectado',
  Mensagem: 'mensagem', Fim: 'fim', Transferido: 'transferido', Avaliacao: 'avaliacao',
  Parceiro: 'parceiro', Erro: 'erro', Confirmada: 'confirmada',
};

// Erros que o broker manda ao recusar uma apresentação, fechando a conexão (tabela do PROTOCOL.md).
const ERROS_QUE_FECHAM = new Set([
  'VersaoIncompativel', 'ApresentacaoEsperada', 'NomeInvalido', 'NomeEmUso', 'DepartamentoInvalido',
  'QuadroInvalido', 'QuadroGrande', 'PrazoEsgotado', 'FilaCheia', 'LimiteDeConexoes', 'NaoAutorizado',
  'RetomadaInvalida',
]);

// Numa retomada, estes não passam com outra tentativa; os outros (LimiteDeConexoes, PrazoEsgotado,
// QuadroGrande) podem ser passageiros: a sessão continua guardada no broker, tenta-se de novo.
const FINAIS_NA_RETOMADA = new Set(['VersaoIncompativel', 'ApresentacaoEsperada', 'QuadroInvalido', 'NaoAutorizado']);

const BATIMENTO_PADRAO_MS = 15000;
const RECONEXAO_MINIMA_MS = 500;
const RECONEXAO_MAXIMA_MS = 10000;

function paraHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function deHex(s) {
  if (typeof s !== 'string' || !/^[0-9a-f]{32}$/.test(s)) throw new Error('ficha inválida');
  return Uint8Array.from(s.match(/../g), (h) => parseInt(h, 16));
}

function bytesDe(dados) {
  if (dados instanceof ArrayBuffer) return new Uint8Array(dados);
  if (ArrayBuffer.isView(dados)) return new Uint8Array(dados.buffer, dados.byteOffset, dados.byteLength);
  return null; // texto (ou Blob): não é um quadro
}

function quadroDe(p) {
  switch (p.tipo) {
    case 'Mensagem': return { tipo: 'Mensagem', conversa: 0, texto: p.texto, seq: p.seq };
    case 'Avaliar': return { tipo: 'Avaliar', conversa: p.conversa, nota: p.nota, seq: p.seq };
    case 'Sair': return { tipo: 'Sair', seq: p.seq };
    default: throw new Error(`pendente desconhecido: ${p.tipo}`);
  }
}

const ehInteiro = (n, minimo) => Number.isSafeInteger(n) && n >= minimo;

function pendenteValido(p) {
  if (!p || typeof p !== 'object' || !ehInteiro(p.seq, 1)) return false;
  switch (p.tipo) {
    case 'Mensagem': return typeof p.texto === 'string';
    case 'Avaliar': return ehInteiro(p.conversa, 0) && ehInteiro(p.nota, 1) && p.nota <= 5;
    case 'Sair': return true;
    default: return false;
  }
}

function copiarPendente(p) {
  const { seq, tipo } = p;
  if (tipo === 'Mensagem') return { seq, tipo, texto: p.texto };
  if (tipo === 'Avaliar') return { seq, tipo, conversa: p.conversa, nota: p.nota };
  return { seq, tipo };
}

/** Reads and checks the stored session; anything malformed is removed and ignored. */
function lerSalvo(armazenamento, chave) {
  if (!armazenamento) return null;
  let texto;
  try {
    texto = armazenamento.getItem(chave);
  } catch {
    return null;
  }
  if (texto === null || texto === undefined) return null;
  try {
    const o = JSON.parse(texto);
    if (!o || typeof o !== 'object' || o.versao !== 1) throw new Error('formato');
    const ficha = o.ficha === null ? null : deHex(o.ficha);
    if (!ehInteiro(o.recebidos, 0) || !ehInteiro(o.proximoSeq, 1) || !Array.isArray(o.pendentes)) throw new Error('formato');
    let anterior = 0;
    for (const p of o.pendentes) {
      if (!pendenteValido(p) || p.seq <= anterior || p.seq >= o.proximoSeq) throw new Error('pendente');
      anterior = p.seq;
    }
    const av = o.avaliacao;
    if (av !== null && av !== undefined && !(ehInteiro(av.conversa, 1) && ehInteiro(av.prazo_s, 0))) throw new Error('avaliacao');
    return {
      nome: typeof o.nome === 'string' ? o.nome : undefined,
      departamento: typeof o.departamento === 'string' ? o.departamento : undefined,
      ficha,
      recebidos: o.recebidos,
      proximoSeq: o.proximoSeq,
      pendentes: o.pendentes.map(copiarPendente),
      avaliacao: av ? { conversa: av.conversa, prazo_s: av.prazo_s } : null,
      batimento_ms: ehInteiro(o.batimento_ms, 1) ? o.batimento_ms : null,
    };
  } catch {
    try {
      armazenamento.removeItem(chave);
    } catch { /* nada a fazer */ }
    return null;
  }
}

/** Token bucket: `rajada` tokens, refilled at `mensagens_por_segundo`; one per numbered frame. */
class Balde {
  constructor(agora) {
    this.agora = agora;
    this.taxa = Infinity; // fichas por segundo
    this.capacidade = Infinity;
    this.fichas = Infinity;
    this.ultimo = agora();
  }
  configurar(mensagensPorSegundo, rajada, cheio) {
    this.recarregar();
    if (!(mensagensPorSegundo > 0) || !(rajada > 0)) {
      // 0 não tem sentido como ritmo (nada passaria): trata-se como sem limite.
      this.taxa = Infinity;
      this.capacidade = Infinity;
      this.fichas = Infinity;
      return;
    }
    this.taxa = mensagensPorSegundo;
    this.capacidade = rajada;
    this.fichas = cheio ? rajada : Math.min(this.fichas, rajada);
  }
  recarregar() {
    const t = this.agora();
    if (Number.isFinite(this.taxa)) {
      this.fichas = Math.min(this.capacidade, this.fichas + ((t - this.ultimo) * this.taxa) / 1000);
    }
    this.ultimo = t;
  }
  /** Takes a token and returns 0, or returns how many ms to wait for one (taking nothing). */
  tomar() {
    this.recarregar();
    if (this.fichas >= 1) {
      this.fichas -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.fichas) * 1000) / this.taxa));
  }
}

export class Sessao extends EventTarget {
  /**
   * @param {object} opcoes
   * @param {string} opcoes.url `ws(s)://HOST/ws`
   * @param {string} [opcoes.nome] the customer's name (else the stored session's)
   * @param {string} [opcoes.departamento] (else the stored session's, else 'geral')
   * @param {Storage} [opcoes.armazenamento] getItem/setItem/removeItem, e.g. sessionStorage; none: no persistence
   * @param {Function} [opcoes.WebSocket] constructor, default globalThis.WebSocket
   * @param {{setTimeout?, clearTimeout?, agora?, aleatorio?}} [opcoes.agendar] timers, a ms clock, and a
   *   [0, 1) random source (for the reconnection jitter); defaults: the globals, performance.now, Math.random
   * @param {string} [opcoes.chave] storage key, default CHAVE_ARMAZENAMENTO
   */
  constructor({ url, nome, departamento, armazenamento = null, WebSocket, agendar = {}, chave = CHAVE_ARMAZENAMENTO } = {}) {
    super();
    this._url = url;
    this._arm = armazenamento;
    this._chave = chave;
    this._WS = WebSocket ?? globalThis.WebSocket;
    if (typeof this._WS !== 'function') throw new TypeError('nenhum WebSocket disponível');
    this._t = {
      setTimeout: agendar.setTimeout ?? ((f, ms) => globalThis.setTimeout(f, ms)),
      clearTimeout: agendar.clearTimeout ?? ((id) => globalThis.clearTimeout(id)),
      agora: agendar.agora ?? (() => globalThis.performance?.now?.() ?? Date.now()),
      aleatorio: agendar.aleatorio ?? Math.random,
    };

    const salvo = lerSalvo(armazenamento, chave);
    this._nome = nome ?? salvo?.nome;
    this._departamento = departamento ?? salvo?.departamento ?? 'geral';
    if (typeof this._nome !== 'string') throw new TypeError('nome é obrigatório');
    this._ficha = salvo?.ficha ?? null; // null: ainda sem sessão (ou sem retomadas)
    this._recebidos = salvo?.recebidos ?? 0;
    this._proximoSeq = salvo?.proximoSeq ?? 1;
    this._pendentes = salvo?.pendentes ?? [];
    this._avaliacao = salvo?.avaliacao ?? null;
    this._batimento = salvo?.batimento_ms ?? null;

    this._estado = 'inicial'; // inicial | conectando | conectado | reconectando | encerrada | fechada
    this._temSessao = false; // um BemVindo já chegou a este objeto
    this._retomavel = null; // null: não se sabe ainda; false: o broker não guarda sessões
    this._ws = null;
    this._pronto = false; // o BemVindo desta conexão chegou
    this._retomando = false; // a apresentação desta conexão levava `retomar`
    this._enviadoAte = 0; // maior seq enviado nesta conexão
    this._tentativa = 0;
    this._pediuSaida = false; // sair() foi chamado: uma retomada recusada depois disso é a saída
    this._balde = new Balde(this._t.agora);
    this._baldeConfigurado = false;
    this._tVigia = null;
    this._tBalde = null;
    this._tReconectar = null;
  }

  /** 'inicial', 'conectando', 'conectado', 'reconectando', 'encerrada' or 'fechada' (after fechar()). */
  get estado() { return this._estado; }
  get nome() { return this._nome; }
  get departamento() { return this._departamento; }
  /** Numbered broker frames received in this session (across resumes and reloads). */
  get recebidos() { return this._recebidos; }
  /** The unconfirmed lines and commands, oldest first (copies). */
  get pendentes() { return this._pendentes.map(copiarPendente); }
  /** The last `Avaliacao` ({ conversa, prazo_s }) or null. */
  get avaliacao() { return this._avaliacao && { ...this._avaliacao }; }

  /** Connects: a new customer handshake, or a resume when the storage holds a session. */
  iniciar() {
    if (this._estado !== 'inicial') throw new Error(`iniciar() com a sessão em "${this._estado}"`);
    this._estado = 'conectando';
    this._emitirEstado({ estado: 'conectando' });
    this._conectar(true);
    return this;
  }

  /** Sends a chat line (conversa 0); returns its seq. Kept, and sent again, until confirmed. */
  enviar(texto) {
    if (typeof texto !== 'string') throw new TypeError('texto deve ser uma string');
    return this._numerar({ tipo: 'Mensagem', texto });
  }

  /** Rates the chat of the last `Avaliacao`, `nota` 1 to 5; returns its seq. */
  avaliar(nota) {
    if (!this._avaliacao) throw new Error('nenhuma avaliação foi pedida');
    if (!Number.isInteger(nota) || nota < 1 || nota > 5) throw new RangeError('nota deve ser de 1 a 5');
    return this._numerar({ tipo: 'Avaliar', conversa: this._avaliacao.conversa, nota });
  }

  /**
   * Leaves the line or the chat (`Sair`, numbered); returns its seq. The session ends at the
   * broker's `Fim`. Before any session exists it simply ends here (returns null).
   */
  sair() {
    if (this._estado === 'encerrada') return null;
    if (!this._pronto && this._ficha === null && !this._temSessao) {
      this._encerrar('ClienteSaiu');
      return null;
    }
    const seq = this._numerar({ tipo: 'Sair' });
    this._pediuSaida = true;
    return seq;
  }

  /** Closes the connection without ending the session (the storage stays, no reconnection). */
  /** Tries to reconnect at once instead of waiting out the backoff (the device says its
   * network is back). Does nothing unless the session is reconnecting. */
  reconectarJa() {
    if (this._estado !== 'reconectando' || !this._tReconectar) return;
    this._limparTimer('_tReconectar');
    this._conectar();
  }

  fechar() {
    if (this._estado === 'encerrada' || this._estado === 'fechada') return;
    this._estado = 'fechada';
    this._desligarSocket();
    this._limparTimer('_tReconectar');
  }

  // -------------------------------------------------------------------------------------------
  // Conexão

  _conectar(primeira = false) {
    this._tReconectar = null;
    this._pronto = false;
    this._enviadoAte = 0;
    this._retomando = this._ficha !== null;
    let ws;
    try {
      ws = new this._WS(this._url);
    } catch (e) {
      if (primeira) throw e;
      this._agendarReconexao();
      return;
    }
    this._ws = ws;
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      if (ws !== this._ws) return;
      this._enviarQuadro({
        tipo: 'Apresentacao',
        versao: VERSAO_PROTOCOLO,
        nome: this._nome,
        papel: { tipo: 'Cliente', departamento: this._departamento },
        token: null,
        retomar: this._retomando ? { ficha: this._ficha, recebidos: this._recebidos } : null,
      });
    };
    ws.onmessage = (ev) => {
      if (ws === this._ws) this._receber(ev.data);
    };
    ws.onclose = () => {
      if (ws === this._ws) this._perderConexao();
    };
    ws.onerror = () => {
      if (ws === this._ws) this._perderConexao();
    };
    this._armarVigia();
  }

  _desligarSocket() {
    const ws = this._ws;
    this._ws = null;
    this._pronto = false;
    this._limparTimer('_tVigia');
    this._limparTimer('_tBalde');
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try {
        ws.close();
      } catch { /* já fechado */ }
    }
  }

  _perderConexao() {
    if (!this._ws) return;
    this._desligarSocket();
    if (this._estado === 'encerrada' || this._estado === 'fechada') return;
    if (this._temSessao && this._ficha === null) {
      this._encerrar('SemRetomada'); // o broker não guarda esta sessão: ela acabou com a conexão
      return;
    }
    this._agendarReconexao();
  }

  _agendarReconexao() {
    this._tentativa += 1;
    const base = Math.min(RECONEXAO_MAXIMA_MS, RECONEXAO_MINIMA_MS * 2 ** (this._tentativa - 1));
    const atraso = Math.round(base * (0.5 + 0.5 * this._t.aleatorio()));
    this._estado = 'reconectando';
    this._emitirEstado({ estado: 'reconectando', tentativa: this._tentativa, atraso_ms: atraso });
    if (this._estado !== 'reconectando') return; // um ouvinte chamou fechar()
    this._tReconectar = this._t.setTimeout(() => this._conectar(), atraso);
  }

  // Silêncio do broker por dois batimentos: conexão morta.
  _armarVigia() {
    this._limparTimer('_tVigia');
    const b = this._pronto ? this._batimento : (this._batimento || BATIMENTO_PADRAO_MS);
    if (!(b > 0)) return; // batimento 0: o broker não manda Ping
    this._tVigia = this._t.setTimeout(() => {
      this._tVigia = null;
      this._perderConexao();
    }, 2 * b);
  }

  _limparTimer(campo) {
    if (this[campo] !== null) {
      this._t.clearTimeout(this[campo]);
      this[campo] = null;
    }
  }

  _enviarQuadro(quadro) {
    const ws = this._ws;
    if (!ws) return false;
    try {
      ws.send(codificarParaBroker(quadro));
      return true;
    } catch {
      this._perderConexao();
      return false;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Recepção

  _receber(dados) {
    const bytes = bytesDe(dados);
    let quadro;
    try {
      if (!bytes) throw new Error('mensagem não binária');
      quadro = decodificarDoBroker(bytes);
    } catch {
      this._perderConexao(); // um broker que manda lixo: conexão perdida, retoma-se
      return;
    }
    this._armarVigia();
    switch (quadro.tipo) {
      case 'BemVindo': this._aoBemVindo(quadro); break;
      case 'Ping':
        this._enviarQuadro({ tipo: 'Pong' });
        this._enviarQuadro({ tipo: 'Recebidos', total: this._recebidos });
        break;
      case 'Confirmada': this._aoConfirmada(quadro); break;
      case 'Erro': this._aoErro(quadro); break;
      default:
        if (NUMERADOS.has(quadro.tipo)) this._aoNumerado(quadro);
        else if (EVENTOS[quadro.tipo]) this._emitir(EVENTOS[quadro.tipo], quadro);
    }
  }

  _aoBemVindo(q) {
    this._pronto = true;
    this._temSessao = true;
    this._tentativa = 0;
    if (!q.retomada) this._recebidos = 0; // uma sessão nova conta do zero
    this._retomavel = q.tolerancia_ms > 0 && q.ficha.some((b) => b !== 0);
    this._ficha = this._retomavel ? q.ficha : null;
    this._batimento = q.batimento_ms;
    this._balde.configurar(q.mensagens_por_segundo, q.rajada, !this._baldeConfigurado);
    this._baldeConfigurado = true;
    const antes = this._pendentes.length;
    this._pendentes = this._pendentes.filter((p) => p.seq > q.ultima_aceita);
    if (this._retomavel) {
      this._salvar();
    } else {
      this._apagarSalvo(); // sem retomadas, nada sobrevive a uma recarga
    }
    this._estado = 'conectado';
    this._armarVigia();
    this._emitir('bemvindo', q);
    if (this._estado !== 'conectado') return;
    this._emitirEstado({ estado: 'conectado', retomada: q.retomada });
    if (this._pendentes.length !== antes) this._emitirPendentes();
    this._bombear();
  }

  _aoConfirmada(q) {
    const antes = this._pendentes.length;
    this._pendentes = this._pendentes.filter((p) => p.seq > q.seq);
    if (this._pendentes.length !== antes) this._salvar();
    this._emitir('confirmada', q);
    if (this._pendentes.length !== antes) this._emitirPendentes();
  }

  _aoErro(q) {
    this._emitir('erro', q);
    if (this._estado === 'encerrada') return;
    if (q.codigo === 'RetomadaInvalida') {
      // Quem pediu para sair e perdeu a conexão antes do Fim não pode retomar: saiu.
      this._encerrar(this._pediuSaida ? 'ClienteSaiu' : 'RetomadaInvalida');
    } else if (!this._pronto && ERROS_QUE_FECHAM.has(q.codigo)) {
      // Recusa da apresentação. Sem sessão ainda: é definitiva. Numa retomada, só as que não
      // mudariam com outra tentativa; nas outras, o fechamento leva a uma nova tentativa.
      if (!this._retomando || FINAIS_NA_RETOMADA.has(q.codigo)) this._encerrar(q.codigo);
    }
  }

  _aoNumerado(q) {
    if (q.tipo === 'Avaliacao') this._avaliacao = { conversa: q.conversa, prazo_s: q.prazo_s };
    const evento = EVENTOS[q.tipo];
    if (evento) this._emitir(evento, q); // síncrono: a UI já guardou o quadro quando ele volta
    this._recebidos += 1;
    this._salvar(); // só depois do evento: numa recarga, nada se perde nem se repete
    if (this._recebidos % 64 === 0) this._enviarQuadro({ tipo: 'Recebidos', total: this._recebidos });
    if (q.tipo === 'Fim' && (q.conversa === 0 || q.motivo === 'ClienteSaiu' || q.motivo === 'BrokerEncerrando')) {
      this._encerrar(q.motivo);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Envio numerado, com ritmo

  _numerar(entrada) {
    if (this._estado === 'encerrada') throw new Error('a sessão acabou');
    const pendente = { ...entrada, seq: this._proximoSeq };
    codificarParaBroker(quadroDe(pendente)); // valida (e cabe num quadro?) antes de gastar o seq
    this._proximoSeq += 1;
    this._pendentes.push(pendente);
    this._salvar();
    this._emitirPendentes();
    this._bombear();
    return pendente.seq;
  }

  _bombear() {
    this._limparTimer('_tBalde');
    for (const p of [...this._pendentes]) {
      if (!this._pronto || !this._ws) return;
      if (p.seq <= this._enviadoAte) continue;
      const espera = this._balde.tomar();
      if (espera > 0) {
        this._tBalde = this._t.setTimeout(() => {
          this._tBalde = null;
          this._bombear();
        }, espera);
        return;
      }
      if (!this._enviarQuadro(quadroDe(p))) return;
      this._enviadoAte = p.seq;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Fim, armazenamento, eventos

  _encerrar(motivo) {
    if (this._estado === 'encerrada') return;
    this._estado = 'encerrada';
    this._apagarSalvo();
    this._desligarSocket();
    this._limparTimer('_tReconectar');
    this._emitirEstado({ estado: 'encerrada', motivo });
  }

  _salvar() {
    if (!this._arm || this._estado === 'encerrada' || this._retomavel === false) return;
    const dados = {
      versao: 1,
      nome: this._nome,
      departamento: this._departamento,
      ficha: this._ficha ? paraHex(this._ficha) : null,
      recebidos: this._recebidos,
      proximoSeq: this._proximoSeq,
      pendentes: this._pendentes.map(copiarPendente),
      avaliacao: this._avaliacao,
      batimento_ms: this._batimento,
    };
    try {
      this._arm.setItem(this._chave, JSON.stringify(dados));
    } catch { /* armazenamento cheio ou proibido: a sessão segue, só não sobrevive a uma recarga */ }
  }

  _apagarSalvo() {
    if (!this._arm) return;
    try {
      this._arm.removeItem(this._chave);
    } catch { /* nada a fazer */ }
  }

  _emitir(nome, detail) {
    this.dispatchEvent(new CustomEvent(nome, { detail }));
  }

  _emitirEstado(detail) {
    this._emitir('estado', detail);
  }

  _emitirPendentes() {
    this._emitir('pendentes', { pendentes: this.pendentes });
  }
}

/**
 * Asks the broker which departments it serves: a customer handshake with an empty department,
 * answered by `Departamentos` (then `Erro(DepartamentoInvalido)` and the close). Resolves with the
 * names (the first is the default), or [] when the broker accepts any valid name. Rejects on any
 * other error (`erro.codigo` holds the `CodigoErro`), a failed connection, or no answer in time.
 */
export function consultarDepartamentos(url, WebSocket = globalThis.WebSocket, { nome = 'consulta', tempoLimite_ms = 10000, agendar = {} } = {}) {
  const definir = agendar.setTimeout ?? ((f, ms) => globalThis.setTimeout(f, ms));
  const cancelar = agendar.clearTimeout ?? ((id) => globalThis.clearTimeout(id));
  return new Promise((resolver, rejeitar) => {
    let ws;
    let feito = false;
    let timer = null;
    const acabar = (erro, nomes) => {
      if (feito) return;
      feito = true;
      if (timer !== null) cancelar(timer);
      if (ws) {
        ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
        try {
          ws.close();
        } catch { /* já fechado */ }
      }
      if (erro) rejeitar(erro);
      else resolver(nomes);
    };
    try {
      ws = new WebSocket(url);
    } catch (e) {
      rejeitar(e);
      return;
    }
    ws.binaryType = 'arraybuffer';
    timer = definir(() => acabar(new Error('o broker não respondeu a tempo')), tempoLimite_ms);
    ws.onopen = () => {
      try {
        ws.send(codificarParaBroker({
          tipo: 'Apresentacao', versao: VERSAO_PROTOCOLO, nome, papel: { tipo: 'Cliente', departamento: '' },
          token: null, retomar: null,
        }));
      } catch (e) {
        acabar(e);
      }
    };
    ws.onmessage = (ev) => {
      let q;
      try {
        const bytes = bytesDe(ev.data);
        if (!bytes) throw new Error('mensagem não binária do broker');
        q = decodificarDoBroker(bytes);
      } catch (e) {
        acabar(e);
        return;
      }
      if (q.tipo === 'Departamentos') {
        acabar(null, q.nomes);
      } else if (q.tipo === 'Erro') {
        if (q.codigo === 'DepartamentoInvalido') acabar(null, []); // sem a lista antes: nenhuma lista
        else acabar(Object.assign(new Error(`${q.codigo}: ${q.texto}`), { codigo: q.codigo, quadro: q }));
      } else if (q.tipo === 'BemVindo') {
        // Um broker que aceitou o departamento vazio: sai dessa sessão; não há lista.
        try {
          ws.send(codificarParaBroker({ tipo: 'Sair', seq: 0 }));
        } catch { /* fecha de todo modo */ }
        acabar(null, []);
      }
    };
    ws.onerror = () => acabar(new Error('falha na conexão com o broker'));
    ws.onclose = () => acabar(new Error('o broker fechou a conexão sem mandar a lista'));
  });
}
