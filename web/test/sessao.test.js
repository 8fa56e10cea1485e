// sessao.test.js — tests the customer session of src/sessao.js against a fake WebSocket, a fake
// Storage and a controllable clock: handshakes, the outbox, resumes and reloads, heartbeats,
// the session's end, final errors and the rate. Run with `node --test test/` from web/.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Sessao, consultarDepartamentos, CHAVE_ARMAZENAMENTO } from '../src/sessao.js';
import { codificarDoBroker, decodificarParaBroker } from '../src/protocolo.js';

const paraHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
const dezesseis = (b) => new Uint8Array(16).fill(b);

/** A WebSocket class of its own for each test, remembering its instances. */
function fabricaDeWs() {
  const instancias = [];
  class WsFalso {
    constructor(url) {
      this.url = url;
      this.binaryType = 'blob';
      this.brutos = [];
      this.fechado = false;
      this.onopen = this.onmessage = this.onclose = this.onerror = null;
      instancias.push(this);
    }
    send(dados) {
      if (this.fechado) throw new Error('InvalidStateError');
      assert.ok(dados instanceof Uint8Array);
      this.brutos.push(Uint8Array.from(dados));
    }
    close() {
      this.fechado = true;
    }
    // lado do teste
    get enviados() {
      return this.brutos.map((b) => decodificarParaBroker(b));
    }
    /** Frames sent since the last call. */
    novos() {
      const r = this.enviados.slice(this._lidos ?? 0);
      this._lidos = this.brutos.length;
      return r;
    }
    abrir() {
      this.onopen?.({});
    }
    receber(quadro) {
      const b = codificarDoBroker(quadro);
      const copia = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
      this.onmessage?.({ data: this.binaryType === 'arraybuffer' ? copia : new Blob([copia]) });
    }
    derrubar() {
      this.fechado = true;
      this.onclose?.({ code: 1006 });
    }
  }
  return { WsFalso, instancias, ultima: () => instancias.at(-1) };
}

class ArmazenamentoFalso {
  constructor() {
    this.itens = new Map();
  }
  getItem(k) {
    return this.itens.has(k) ? this.itens.get(k) : null;
  }
  setItem(k, v) {
    this.itens.set(k, String(v));
  }
  removeItem(k) {
    this.itens.delete(k);
  }
  get sessao() {
    const t = this.getItem(CHAVE_ARMAZENAMENTO);
    return t === null ? null : JSON.parse(t);
  }
}

class RelogioFalso {
  constructor() {
    this.agoraMs = 0;
    this.timers = [];
    this.proximoId = 1;
    this.setTimeout = (f, ms) => {
      const id = this.proximoId++;
      this.timers.push({ id, quando: this.agoraMs + ms, f });
      return id;
    };
    this.clearTimeout = (id) => {
      this.timers = this.timers.filter((t) => t.id !== id);
    };
    this.agora = () => this.agoraMs;
    this.aleatorio = () => 1; // sem jitter: o atraso é o máximo do intervalo
  }
  avancar(ms) {
    const fim = this.agoraMs + ms;
    for (;;) {
      this.timers.sort((a, b) => a.quando - b.quando || a.id - b.id);
      const t = this.timers[0];
      if (!t || t.quando > fim) break;
      this.timers.shift();
      this.agoraMs = t.quando;
      t.f();
    }
    this.agoraMs = fim;
  }
}

function bemVindo(campos = {}) {
  return {
    tipo: 'BemVindo', sessao: 5, batimento_ms: 15000, ficha: dezesseis(0xab), tolerancia_ms: 60000,
    retomada: false, ultima_aceita: 0, mensagens_por_segundo: 10, rajada: 20, capacidade: 1, ...campos,
  };
}

/** A session over fakes, recording every event it emits. */
function montar({ armazenamento = new ArmazenamentoFalso(), nome = 'Ana', departamento = 'geral', ws, relogio } = {}) {
  const fab = ws ?? fabricaDeWs();
  const rel = relogio ?? new RelogioFalso();
  const s = new Sessao({ url: 'ws://broker/ws', nome, departamento, armazenamento, WebSocket: fab.WsFalso, agendar: rel });
  const eventos = [];
  for (const nomeEvento of ['estado', 'bemvindo', 'departamentos', 'fila', 'conectado', 'mensagem', 'fim',
    'transferido', 'avaliacao', 'parceiro', 'erro', 'confirmada', 'pendentes']) {
    s.addEventListener(nomeEvento, (e) => eventos.push([nomeEvento, e.detail]));
  }
  const estados = () => eventos.filter(([n]) => n === 'estado').map(([, d]) => d);
  return { s, fab, rel, armazenamento, eventos, estados };
}

const linha = (texto, seq) => ({ tipo: 'Mensagem', conversa: 0, texto, seq });

/** Starts a session and completes its first handshake. */
function conectada(opcoes = {}, campos = {}) {
  const m = montar(opcoes);
  m.s.iniciar();
  const ws = m.fab.ultima();
  ws.abrir();
  ws.receber(bemVindo(campos));
  ws.novos();
  return { ...m, ws };
}

describe('handshake', () => {
  test("a fresh customer handshake's bytes", () => {
    const { s, fab, estados } = montar();
    s.iniciar();
    const ws = fab.ultima();
    assert.equal(ws.url, 'ws://broker/ws');
    assert.equal(ws.binaryType, 'arraybuffer');
    assert.equal(ws.brutos.length, 0);
    ws.abrir();
    // PROTOCOL.md's "customer Ana joining geral", body only
    assert.equal(paraHex(ws.brutos[0]), '00 0c 03 41 6e 61 00 05 67 65 72 61 6c 00 00');
    assert.deepEqual(estados(), [{ estado: 'conectando' }]);
    ws.receber(bemVindo());
    assert.deepEqual(estados().at(-1), { estado: 'conectado', retomada: false });
    assert.equal(s.estado, 'conectado');
  });

  test('frames reach the UI as events named after them', () => {
    const { ws, eventos } = conectada();
    const quadros = [
      { tipo: 'Fila', posicao: 2, atendentes: 1, estimativa_s: 60 },
      { tipo: 'Conectado', com: 'Yuri', conversa: 7, departamento: 'geral', espera_ms: 1500 },
      { tipo: 'Mensagem', conversa: 7, de: 'Yuri', texto: 'olá' },
      { tipo: 'Parceiro', conversa: 7, conectado: false },
      { tipo: 'Transferido', conversa: 7, para: 'vendas' },
      { tipo: 'Erro', codigo: 'SemConversa', texto: 'x' },
      { tipo: 'Espera', clientes: 1 }, // não interessa a um cliente: sem evento
    ];
    eventos.length = 0;
    for (const q of quadros) ws.receber(q);
    assert.deepEqual(eventos, [
      ['fila', quadros[0]], ['conectado', quadros[1]], ['mensagem', quadros[2]], ['parceiro', quadros[3]],
      ['transferido', quadros[4]], ['erro', quadros[5]],
    ]);
  });
});

describe('the outbox', () => {
  test('lines typed before BemVindo are sent after it with seq 1, 2, 3', () => {
    const { s, fab, armazenamento, eventos } = montar();
    assert.equal(s.enviar('um'), 1); // before iniciar()
    s.iniciar();
    assert.equal(s.enviar('dois'), 2); // connecting
    const ws = fab.ultima();
    ws.abrir();
    assert.equal(s.enviar('três'), 3); // handshake sent, no BemVindo yet
    assert.deepEqual(ws.novos().map((q) => q.tipo), ['Apresentacao']);
    assert.deepEqual(armazenamento.sessao.pendentes.map((p) => p.seq), [1, 2, 3]);
    assert.equal(armazenamento.sessao.ficha, null);
    ws.receber(bemVindo());
    assert.deepEqual(ws.novos(), [linha('um', 1), linha('dois', 2), linha('três', 3)]);
    assert.deepEqual(eventos.filter(([n]) => n === 'pendentes').at(-1)[1].pendentes.map((p) => p.seq), [1, 2, 3]);
    assert.equal(armazenamento.sessao.ficha, 'ab'.repeat(16));
  });

  test('Confirmada removes lines from the outbox and the storage', () => {
    const { s, ws, armazenamento, eventos } = conectada();
    s.enviar('a');
    s.enviar('b');
    s.enviar('c');
    assert.equal(ws.novos().length, 3);
    eventos.length = 0;
    ws.receber({ tipo: 'Confirmada', seq: 2 });
    assert.deepEqual(s.pendentes, [{ seq: 3, tipo: 'Mensagem', texto: 'c' }]);
    assert.deepEqual(armazenamento.sessao.pendentes, [{ seq: 3, tipo: 'Mensagem', texto: 'c' }]);
    assert.deepEqual(eventos, [
      ['confirmada', { tipo: 'Confirmada', seq: 2 }],
      ['pendentes', { pendentes: [{ seq: 3, tipo: 'Mensagem', texto: 'c' }] }],
    ]);
    ws.receber({ tipo: 'Confirmada', seq: 3 });
    assert.deepEqual(s.pendentes, []);
    assert.equal(armazenamento.sessao.proximoSeq, 4);
    assert.equal(ws.novos().length, 0); // nothing sent again on the same connection
  });

  test('commands share the count with lines: Avaliar and Sair', () => {
    const { s, ws } = conectada();
    s.enviar('obrigado');
    assert.throws(() => s.avaliar(5), /nenhuma avaliação/);
    ws.receber({ tipo: 'Fim', conversa: 7, motivo: 'AtendenteEncerrou' });
    ws.receber({ tipo: 'Avaliacao', conversa: 7, prazo_s: 120 });
    assert.throws(() => s.avaliar(6), RangeError);
    assert.equal(s.avaliar(5), 2);
    assert.equal(s.sair(), 3);
    assert.deepEqual(ws.novos(), [
      linha('obrigado', 1), { tipo: 'Avaliar', conversa: 7, nota: 5, seq: 2 }, { tipo: 'Sair', seq: 3 },
    ]);
  });

  test('a text that cannot fit a frame is refused without using a seq', () => {
    const { s } = conectada();
    assert.throws(() => s.enviar('x'.repeat(70000)));
    assert.throws(() => s.enviar(5), TypeError);
    assert.equal(s.enviar('ok'), 1);
  });
});

describe('resuming', () => {
  test('a drop, then a resume with the ficha and count, resending only lines above ultima_aceita', () => {
    const { s, fab, rel, ws, armazenamento, estados } = conectada();
    ws.receber({ tipo: 'Conectado', com: 'Yuri', conversa: 7, departamento: 'geral', espera_ms: 10 });
    ws.receber({ tipo: 'Mensagem', conversa: 7, de: 'Yuri', texto: 'oi' });
    ws.receber({ tipo: 'Fila', posicao: 1, atendentes: 1, estimativa_s: null }); // not numbered
    s.enviar('a');
    s.enviar('b');
    s.enviar('c');
    ws.receber({ tipo: 'Confirmada', seq: 1 });
    ws.derrubar();
    assert.deepEqual(estados().at(-1), { estado: 'reconectando', tentativa: 1, atraso_ms: 500 });
    assert.equal(s.enviar('d'), 4); // typed while down
    assert.equal(fab.instancias.length, 1);
    rel.avancar(499);
    assert.equal(fab.instancias.length, 1);
    rel.avancar(1);
    const ws2 = fab.ultima();
    assert.notEqual(ws2, ws);
    ws2.abrir();
    const [ap] = ws2.novos();
    assert.deepEqual(ap.retomar, { ficha: dezesseis(0xab), recebidos: 2 });
    assert.deepEqual(ap.papel, { tipo: 'Cliente', departamento: 'geral' });
    // the broker had handled seq 2 (its Confirmada was lost with the connection)
    ws2.receber(bemVindo({ retomada: true, ultima_aceita: 2 }));
    assert.deepEqual(ws2.novos(), [linha('c', 3), linha('d', 4)]);
    assert.deepEqual(armazenamento.sessao.pendentes.map((p) => p.seq), [3, 4]);
    assert.deepEqual(estados().at(-1), { estado: 'conectado', retomada: true });
    // the replayed frames continue the count
    ws2.receber({ tipo: 'Mensagem', conversa: 7, de: 'Yuri', texto: 'ainda aí?' });
    assert.equal(armazenamento.sessao.recebidos, 3);
  });

  test('backoff doubles up to 10 s, with jitter, and resets after a BemVindo', () => {
    const relogio = new RelogioFalso();
    let sorteio = 0;
    relogio.aleatorio = () => sorteio;
    const { s, fab, rel, estados } = montar({ relogio });
    s.iniciar();
    const atrasos = [];
    for (let i = 0; i < 7; i++) {
      fab.ultima().derrubar();
      const e = estados().at(-1);
      assert.equal(e.estado, 'reconectando');
      assert.equal(e.tentativa, i + 1);
      atrasos.push(e.atraso_ms);
      rel.avancar(e.atraso_ms);
    }
    assert.deepEqual(atrasos, [250, 500, 1000, 2000, 4000, 5000, 5000]); // half of 0.5, 1, 2, 4, 8, 10, 10 s
    sorteio = 1;
    fab.ultima().abrir();
    fab.ultima().receber(bemVindo());
    fab.ultima().derrubar();
    assert.deepEqual(estados().at(-1), { estado: 'reconectando', tentativa: 1, atraso_ms: 500 });
    // a fresh handshake each time (no session yet), a resume after the BemVindo
    rel.avancar(500);
    fab.ultima().abrir();
    assert.notEqual(fab.ultima().enviados[0].retomar, null);
    assert.equal(fab.instancias[1].enviados.length, 0); // never opened
  });

  test('reconectarJa() skips the backoff while reconnecting, and does nothing otherwise', () => {
    const { s, fab, ws } = conectada();
    s.reconectarJa();
    assert.equal(fab.instancias.length, 1, 'connected: nothing to do');
    ws.derrubar();
    assert.equal(fab.instancias.length, 1, 'the backoff is waiting');
    s.reconectarJa();
    assert.equal(fab.instancias.length, 2, 'a new connection at once');
    fab.ultima().abrir();
    assert.notEqual(fab.ultima().enviados[0].retomar, null, 'and it resumes');
  });

  test('a reload (a new Sessao over the same storage) resumes and does not double lines', () => {
    const armazenamento = new ArmazenamentoFalso();
    const fab = fabricaDeWs();
    const a = conectada({ armazenamento, ws: fab });
    a.ws.receber({ tipo: 'Conectado', com: 'Yuri', conversa: 7, departamento: 'geral', espera_ms: 10 });
    a.s.enviar('um');
    a.s.enviar('dois');
    a.s.enviar('três');
    a.ws.receber({ tipo: 'Confirmada', seq: 1 });
    assert.equal(a.ws.novos().length, 3);
    // the UI records the frame in its listener; the count is stored right after it
    const vistos = [];
    a.s.addEventListener('mensagem', () => vistos.push(armazenamento.sessao.recebidos));
    a.ws.receber({ tipo: 'Mensagem', conversa: 7, de: 'Yuri', texto: 'oi' });
    assert.deepEqual(vistos, [1]);
    assert.equal(armazenamento.sessao.recebidos, 2);
    a.s.fechar(); // the page goes away
    assert.ok(a.ws.fechado);
    a.rel.avancar(60000);
    assert.equal(fab.instancias.length, 1); // no reconnection from the closed one

    const b = montar({ armazenamento, ws: fab, nome: undefined, departamento: undefined });
    assert.equal(b.s.nome, 'Ana');
    assert.equal(b.s.recebidos, 2);
    b.s.iniciar();
    const ws = fab.ultima();
    ws.abrir();
    const [ap] = ws.novos();
    assert.equal(ap.nome, 'Ana');
    assert.deepEqual(ap.retomar, { ficha: dezesseis(0xab), recebidos: 2 });
    ws.receber(bemVindo({ retomada: true, ultima_aceita: 2 }));
    assert.deepEqual(ws.novos(), [linha('três', 3)]);
    assert.equal(b.s.enviar('quatro'), 4);
    assert.deepEqual(ws.novos(), [linha('quatro', 4)]);
  });

  test('lines kept before any session survive a reload and start a fresh session', () => {
    const armazenamento = new ArmazenamentoFalso();
    const a = montar({ armazenamento });
    a.s.iniciar();
    a.s.enviar('antes');
    a.s.fechar();
    const b = montar({ armazenamento });
    b.s.iniciar();
    const ws = b.fab.ultima();
    ws.abrir();
    assert.equal(ws.novos()[0].retomar, null);
    ws.receber(bemVindo());
    assert.deepEqual(ws.novos(), [linha('antes', 1)]);
  });

  test('RetomadaInvalida clears the storage and ends the session', () => {
    const armazenamento = new ArmazenamentoFalso();
    const a = conectada({ armazenamento });
    a.s.enviar('perdida');
    a.s.fechar();
    const b = montar({ armazenamento });
    b.s.iniciar();
    const ws = b.fab.ultima();
    ws.abrir();
    assert.notEqual(ws.novos()[0].retomar, null);
    ws.receber({ tipo: 'Erro', codigo: 'RetomadaInvalida', texto: 'sessão desconhecida' });
    assert.equal(armazenamento.sessao, null);
    assert.deepEqual(b.estados().at(-1), { estado: 'encerrada', motivo: 'RetomadaInvalida' });
    assert.equal(b.eventos.filter(([n]) => n === 'erro').length, 1);
    ws.derrubar();
    b.rel.avancar(60000);
    assert.equal(b.fab.instancias.length, 1);
    assert.throws(() => b.s.enviar('depois'), /acabou/);
  });

  test('a resume refused after sair() ends the session as ClienteSaiu', () => {
    const { s, ws, fab, rel, estados } = conectada();
    s.sair();
    ws.derrubar(); // before the broker's Fim arrived
    rel.avancar(500);
    fab.ultima().abrir();
    fab.ultima().receber({ tipo: 'Erro', codigo: 'RetomadaInvalida', texto: '' });
    assert.deepEqual(estados().at(-1), { estado: 'encerrada', motivo: 'ClienteSaiu' });
  });

  test('a transient error during a resume retries', () => {
    const { s, fab, rel, ws, estados } = conectada();
    ws.derrubar();
    rel.avancar(500);
    const ws2 = fab.ultima();
    ws2.abrir();
    ws2.receber({ tipo: 'Erro', codigo: 'LimiteDeConexoes', texto: 'muitas conexões' });
    ws2.derrubar();
    assert.equal(estados().at(-1).estado, 'reconectando');
    rel.avancar(1000);
    assert.equal(fab.instancias.length, 3);
    assert.equal(s.estado, 'reconectando');
  });

  test('with resumes off, a drop ends the session and nothing is stored', () => {
    const { ws, armazenamento, estados, fab, rel } = conectada({}, { tolerancia_ms: 0, ficha: new Uint8Array(16) });
    assert.equal(armazenamento.sessao, null);
    ws.derrubar();
    assert.deepEqual(estados().at(-1), { estado: 'encerrada', motivo: 'SemRetomada' });
    rel.avancar(60000);
    assert.equal(fab.instancias.length, 1);
  });

  test('a storage item that is not ours is ignored and removed', () => {
    const armazenamento = new ArmazenamentoFalso();
    armazenamento.setItem(CHAVE_ARMAZENAMENTO, '{"versao":1,"ficha":"zz"}');
    const { s, fab } = montar({ armazenamento });
    assert.equal(armazenamento.getItem(CHAVE_ARMAZENAMENTO), null);
    s.iniciar();
    fab.ultima().abrir();
    assert.equal(fab.ultima().enviados[0].retomar, null);
  });
});

describe('heartbeats and acknowledgements', () => {
  test('Ping is answered with Pong and Recebidos', () => {
    const { ws } = conectada();
    ws.receber({ tipo: 'Conectado', com: 'Yuri', conversa: 7, departamento: 'geral', espera_ms: 10 });
    ws.receber({ tipo: 'Ping' });
    assert.deepEqual(ws.novos(), [{ tipo: 'Pong' }, { tipo: 'Recebidos', total: 1 }]);
  });

  test('Recebidos every 64 numbered frames', () => {
    const { ws } = conectada();
    ws.receber({ tipo: 'Conectado', com: 'Yuri', conversa: 7, departamento: 'geral', espera_ms: 10 });
    for (let i = 0; i < 127; i++) ws.receber({ tipo: 'Mensagem', conversa: 7, de: 'Yuri', texto: `${i}` });
    assert.deepEqual(ws.novos(), [{ tipo: 'Recebidos', total: 64 }, { tipo: 'Recebidos', total: 128 }]);
  });

  test('silence for two heartbeats is a dead connection', () => {
    const { rel, ws, fab, estados } = conectada({}, { batimento_ms: 1000 });
    rel.avancar(1500);
    ws.receber({ tipo: 'Ping' }); // anything from the broker rearms the watch
    rel.avancar(1999);
    assert.equal(ws.fechado, false);
    rel.avancar(1);
    assert.ok(ws.fechado);
    assert.equal(estados().at(-1).estado, 'reconectando');
    rel.avancar(500);
    assert.equal(fab.instancias.length, 2);
  });

  test('garbage from the broker drops the connection (then resumes)', () => {
    const { ws, estados } = conectada();
    ws.onmessage({ data: new Uint8Array([0x63]).buffer });
    assert.ok(ws.fechado);
    assert.equal(estados().at(-1).estado, 'reconectando');
  });
});

describe("the session's end", () => {
  for (const [nome, fim] of [
    ['Fim with conversa 0', { tipo: 'Fim', conversa: 0, motivo: 'AtendenteEncerrou' }],
    ['Fim with ClienteSaiu', { tipo: 'Fim', conversa: 7, motivo: 'ClienteSaiu' }],
    ['Fim with BrokerEncerrando', { tipo: 'Fim', conversa: 7, motivo: 'BrokerEncerrando' }],
  ]) {
    test(`${nome} clears the storage and does not reconnect`, () => {
      const { s, ws, fab, rel, armazenamento, eventos, estados } = conectada();
      s.enviar('tchau');
      assert.notEqual(armazenamento.sessao, null);
      ws.receber(fim);
      assert.equal(armazenamento.sessao, null);
      assert.deepEqual(eventos.at(-2), ['fim', fim]);
      assert.deepEqual(estados().at(-1), { estado: 'encerrada', motivo: fim.motivo });
      assert.ok(ws.fechado);
      ws.derrubar();
      rel.avancar(60000);
      assert.equal(fab.instancias.length, 1);
      assert.equal(estados().filter((e) => e.estado === 'encerrada').length, 1);
    });
  }

  test('a chat ending for another reason does not end the session', () => {
    const { s, ws, armazenamento } = conectada();
    ws.receber({ tipo: 'Fim', conversa: 7, motivo: 'AtendenteDesconectou' });
    ws.receber({ tipo: 'Fim', conversa: 7, motivo: 'AtendenteEncerrou' });
    assert.equal(s.estado, 'conectado');
    assert.equal(armazenamento.sessao.recebidos, 2);
  });

  test('sair() before any session ends it at once', () => {
    const { s, fab, estados, armazenamento } = montar();
    s.iniciar();
    s.enviar('x');
    assert.equal(s.sair(), null);
    assert.deepEqual(estados().at(-1), { estado: 'encerrada', motivo: 'ClienteSaiu' });
    assert.ok(fab.ultima().fechado);
    assert.equal(armazenamento.sessao, null);
  });
});

describe('final handshake errors', () => {
  test('DepartamentoInvalido after Departamentos is final: no retry', () => {
    const { s, fab, rel, armazenamento, eventos, estados } = montar({ departamento: 'suporte' });
    s.iniciar();
    s.enviar('oi');
    const ws = fab.ultima();
    ws.abrir();
    ws.receber({ tipo: 'Departamentos', nomes: ['geral', 'vendas'] });
    ws.receber({ tipo: 'Erro', codigo: 'DepartamentoInvalido', texto: 'não atendemos "suporte"' });
    ws.derrubar();
    assert.deepEqual(eventos.filter(([n]) => n !== 'pendentes').map(([n]) => n),
      ['estado', 'departamentos', 'erro', 'estado']);
    assert.deepEqual(estados().at(-1), { estado: 'encerrada', motivo: 'DepartamentoInvalido' });
    assert.equal(armazenamento.sessao, null);
    rel.avancar(60000);
    assert.equal(fab.instancias.length, 1);
  });

  for (const codigo of ['LimiteDeConexoes', 'FilaCheia', 'NomeInvalido', 'VersaoIncompativel']) {
    test(`${codigo} on a first handshake is final`, () => {
      const { s, fab, rel, estados } = montar();
      s.iniciar();
      fab.ultima().abrir();
      fab.ultima().receber({ tipo: 'Erro', codigo, texto: '' });
      fab.ultima().derrubar();
      rel.avancar(60000);
      assert.equal(fab.instancias.length, 1);
      assert.deepEqual(estados().at(-1), { estado: 'encerrada', motivo: codigo });
    });
  }

  test('an error that keeps the connection open is only reported', () => {
    const { s, ws } = conectada();
    ws.receber({ tipo: 'Erro', codigo: 'EsperaCheia', texto: 'espera cheia' });
    assert.equal(s.estado, 'conectado');
  });
});

describe('rate', () => {
  test('a burst beyond rajada waits for the bucket; Pong and Recebidos do not', () => {
    const { s, ws, rel } = conectada({}, { mensagens_por_segundo: 10, rajada: 3 });
    for (let i = 1; i <= 6; i++) s.enviar(`l${i}`);
    assert.deepEqual(ws.novos().map((q) => q.seq), [1, 2, 3]);
    ws.receber({ tipo: 'Ping' });
    assert.deepEqual(ws.novos().map((q) => q.tipo), ['Pong', 'Recebidos']);
    rel.avancar(99);
    assert.deepEqual(ws.novos(), []);
    rel.avancar(1);
    assert.deepEqual(ws.novos().map((q) => q.seq), [4]);
    rel.avancar(100);
    assert.deepEqual(ws.novos().map((q) => q.seq), [5]);
    rel.avancar(100);
    assert.deepEqual(ws.novos().map((q) => q.seq), [6]);
    rel.avancar(10000); // the bucket refills up to rajada, no more
    for (let i = 7; i <= 11; i++) s.enviar(`l${i}`);
    assert.deepEqual(ws.novos().map((q) => q.seq), [7, 8, 9]);
  });

  test('the bucket is not refilled by a resume', () => {
    const { s, ws, rel, fab } = conectada({}, { mensagens_por_segundo: 1, rajada: 2 });
    s.enviar('a');
    s.enviar('b');
    s.enviar('c');
    assert.equal(ws.novos().length, 2);
    ws.derrubar();
    rel.avancar(500);
    const ws2 = fab.ultima();
    ws2.abrir();
    ws2.receber(bemVindo({ retomada: true, ultima_aceita: 0, mensagens_por_segundo: 1, rajada: 2 }));
    // 0.5 s refilled half a token: a, b and c all wait, one per second
    assert.deepEqual(ws2.novos().map((q) => q.tipo), ['Apresentacao']);
    rel.avancar(500);
    assert.deepEqual(ws2.novos().map((q) => q.seq), [1]);
    rel.avancar(1000);
    assert.deepEqual(ws2.novos().map((q) => q.seq), [2]);
  });
});

describe('consultarDepartamentos', () => {
  function consultar(responder) {
    const fab = fabricaDeWs();
    const promessa = consultarDepartamentos('ws://broker/ws', fab.WsFalso);
    const ws = fab.ultima();
    ws.abrir();
    const [ap] = ws.enviados;
    assert.deepEqual(ap.papel, { tipo: 'Cliente', departamento: '' });
    assert.equal(ap.versao, 12);
    responder(ws);
    return promessa.finally(() => assert.ok(ws.fechado));
  }

  test('resolves with the list', async () => {
    const nomes = await consultar((ws) => {
      ws.receber({ tipo: 'Departamentos', nomes: ['geral', 'vendas'] });
      ws.receber({ tipo: 'Erro', codigo: 'DepartamentoInvalido', texto: '' });
    });
    assert.deepEqual(nomes, ['geral', 'vendas']);
  });

  test('resolves with [] when any name is accepted', async () => {
    assert.deepEqual(await consultar((ws) => ws.receber({ tipo: 'Departamentos', nomes: [] })), []);
  });

  test('rejects on another error or a close', async () => {
    await assert.rejects(consultar((ws) => ws.receber({ tipo: 'Erro', codigo: 'LimiteDeConexoes', texto: '' })),
      (e) => e.codigo === 'LimiteDeConexoes');
    await assert.rejects(consultar((ws) => ws.derrubar()));
  });
});
