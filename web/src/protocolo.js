// protocolo.js — codec of the help-desk queue broker's binary protocol (version 12, see
// PROTOCOL.md): frame bodies to and from plain JavaScript values, driven by one schema table so
// that encoding and decoding cannot disagree. Plain ES module, no dependencies (browsers, Node 20).
//
// Values:
// - a frame (and every enum that has a variant with fields) is a plain object whose `tipo` is the
//   variant's name, followed by its fields under PROTOCOL.md's names:
//   `{ tipo: 'Mensagem', conversa: 7, texto: 'olá', seq: 1 }`, `{ tipo: 'Pong' }`,
//   `papel: { tipo: 'Cliente', departamento: 'geral' }`, `papel: { tipo: 'Supervisor' }`;
// - the tuple variants get these field names: `Destino` → `{ tipo: 'Atendente', nome: 'Zoe' }` and
//   `{ tipo: 'Departamento', nome: 'vendas' }`; `DoBroker::Painel` → `{ tipo: 'Painel', painel:
//   { meta_ms, departamentos, atendentes, omitidos } }`;
// - enums with no fields at all (`MotivoFim`, `CodigoErro`, `EstadoAtendente`) are strings:
//   `'AtendenteDesconectou'`, `'SemConversa'`, `'EmConversa'`;
// - structs (`Retomada`, `Fala`, `Anterior`, `Painel*`) are plain objects with their fields;
// - `u8`, `u16`, `u32` and `u64` are JS numbers. A `u64` above `Number.MAX_SAFE_INTEGER`
//   (2^53 − 1) is refused in both directions (`ErroDeQuadro`): no id, count or time of the broker
//   comes near it;
// - `bool` is true/false; `option<T>` is `null` (or, when encoding, `undefined`) or the value;
//   `list<T>` is an array; `bytes16` (the `ficha`) is a `Uint8Array` of 16 bytes; `string` is a
//   JS string (UTF-8 on the wire).
//
// Decoding is strict like the broker: an unknown variant, a truncated body, bad UTF-8, a `bool`
// or option tag other than 00/01, a varint longer than its width (3 bytes for u16, 5 for u32,
// 10 for u64) or overflowing it, or bytes left over throw an `ErroDeQuadro`. So does encoding a
// value that does not fit its type. Nothing else is ever thrown for any input bytes.

export const VERSAO_PROTOCOLO = 12;

/** The broker's default maximum frame body, in bytes (its `--quadro-maximo`). */
export const TAMANHO_MAXIMO_QUADRO = 65536;

/** A body that is not a valid value, or a value that cannot be encoded. */
export class ErroDeQuadro extends Error {
  constructor(mensagem) {
    super(mensagem);
    this.name = 'ErroDeQuadro';
  }
}

// ---------------------------------------------------------------------------------------------
// Leitura e escrita de bytes

const codificadorUtf8 = new TextEncoder();
// ignoreBOM: um U+FEFF no início de um texto faz parte do texto (sem isso o TextDecoder o apaga).
const decodificadorUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

class Escritor {
  constructor() {
    this.bytes = new Uint8Array(64);
    this.tamanho = 0;
  }
  garantir(n) {
    if (this.tamanho + n <= this.bytes.length) return;
    let novo = this.bytes.length * 2;
    while (novo < this.tamanho + n) novo *= 2;
    const maior = new Uint8Array(novo);
    maior.set(this.bytes.subarray(0, this.tamanho));
    this.bytes = maior;
  }
  byte(b) {
    this.garantir(1);
    this.bytes[this.tamanho++] = b;
  }
  trecho(bytes) {
    this.garantir(bytes.length);
    this.bytes.set(bytes, this.tamanho);
    this.tamanho += bytes.length;
  }
  // LEB128 sem sinal; `n` já validado (inteiro, 0 ≤ n ≤ 2^53 − 1), por isso aritmética e não bits.
  varint(n) {
    while (n >= 0x80) {
      this.byte((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    this.byte(n);
  }
  resultado() {
    return this.bytes.slice(0, this.tamanho);
  }
}

class Leitor {
  constructor(bytes) {
    this.bytes = bytes;
    this.pos = 0;
  }
  restantes() {
    return this.bytes.length - this.pos;
  }
  byte(caminho) {
    if (this.pos >= this.bytes.length) throw new ErroDeQuadro(`truncado em ${caminho}`);
    return this.bytes[this.pos++];
  }
  trecho(n, caminho) {
    if (n > this.restantes()) throw new ErroDeQuadro(`truncado em ${caminho}`);
    const t = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return t;
  }
  // Como o postcard: no máximo `maxBytes` bytes; o último, se for o de número `maxBytes`, não pode
  // ter bits além da largura. Um varint não mínimo dentro da largura (`80 00`) é aceito.
  varint(largura, caminho) {
    const { maxBytes, maxUltimo, limite } = largura;
    let valor = 0;
    let peso = 1;
    for (let i = 0; i < maxBytes; i++) {
      const b = this.byte(caminho);
      valor += (b & 0x7f) * peso; // exato enquanto < 2^53; acima disso só importa que passe do limite
      if ((b & 0x80) === 0) {
        if (i === maxBytes - 1 && b > maxUltimo) {
          throw new ErroDeQuadro(`varint acima de ${largura.nome} em ${caminho}`);
        }
        if (valor > limite) {
          throw new ErroDeQuadro(`${largura.nome} acima de Number.MAX_SAFE_INTEGER em ${caminho}`);
        }
        return valor;
      }
      peso *= 0x80;
    }
    throw new ErroDeQuadro(`varint longo demais para ${largura.nome} em ${caminho}`);
  }
}

const U16 = { nome: 'u16', maxBytes: 3, maxUltimo: 0x03, limite: 0xffff };
const U32 = { nome: 'u32', maxBytes: 5, maxUltimo: 0x0f, limite: 0xffffffff };
const U64 = { nome: 'u64', maxBytes: 10, maxUltimo: 0x01, limite: Number.MAX_SAFE_INTEGER };

// ---------------------------------------------------------------------------------------------
// Tipos: cada um sabe codificar e decodificar a si mesmo; o esquema abaixo só os combina.

function inteiroVarint(largura) {
  return {
    codificar(e, v, caminho) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > largura.limite) {
        throw new ErroDeQuadro(`${caminho}: ${largura.nome} esperado, veio ${descrever(v)}`);
      }
      e.varint(v);
    },
    decodificar(l, caminho) {
      return l.varint(largura, caminho);
    },
  };
}

const u16 = inteiroVarint(U16);
const u32 = inteiroVarint(U32);
const u64 = inteiroVarint(U64);

// u8: um byte cru, sem varint.
const u8 = {
  codificar(e, v, caminho) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xff) {
      throw new ErroDeQuadro(`${caminho}: u8 esperado, veio ${descrever(v)}`);
    }
    e.byte(v);
  },
  decodificar(l, caminho) {
    return l.byte(caminho);
  },
};

const bool = {
  codificar(e, v, caminho) {
    if (typeof v !== 'boolean') throw new ErroDeQuadro(`${caminho}: bool esperado, veio ${descrever(v)}`);
    e.byte(v ? 1 : 0);
  },
  decodificar(l, caminho) {
    const b = l.byte(caminho);
    if (b > 1) throw new ErroDeQuadro(`${caminho}: bool inválido (${b})`);
    return b === 1;
  },
};

// Sem regex com lookbehind: navegadores mais velhos nem carregariam o módulo.
function temSurrogateSolto(s) {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1); // NaN no fim da string
      if (!(d >= 0xdc00 && d <= 0xdfff)) return true;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return true;
    }
  }
  return false;
}

const string = {
  codificar(e, v, caminho) {
    if (typeof v !== 'string') throw new ErroDeQuadro(`${caminho}: string esperada, veio ${descrever(v)}`);
    const bemFormada = typeof v.isWellFormed === 'function' ? v.isWellFormed() : !temSurrogateSolto(v);
    if (!bemFormada) throw new ErroDeQuadro(`${caminho}: string com surrogate solto (não é UTF-8 válido)`);
    const bytes = codificadorUtf8.encode(v);
    e.varint(bytes.length);
    e.trecho(bytes);
  },
  decodificar(l, caminho) {
    const n = l.varint(U64, caminho);
    const bytes = l.trecho(n, caminho);
    try {
      return decodificadorUtf8.decode(bytes);
    } catch {
      throw new ErroDeQuadro(`${caminho}: UTF-8 inválido`);
    }
  },
};

const bytes16 = {
  codificar(e, v, caminho) {
    if (!(v instanceof Uint8Array) || v.length !== 16) {
      throw new ErroDeQuadro(`${caminho}: Uint8Array de 16 bytes esperado, veio ${descrever(v)}`);
    }
    e.trecho(v);
  },
  decodificar(l, caminho) {
    return l.trecho(16, caminho).slice(); // cópia: não prende o buffer de quem chamou
  },
};

function lista(item) {
  return {
    codificar(e, v, caminho) {
      if (!Array.isArray(v)) throw new ErroDeQuadro(`${caminho}: lista esperada, veio ${descrever(v)}`);
      e.varint(v.length);
      v.forEach((x, i) => item.codificar(e, x, `${caminho}[${i}]`));
    },
    decodificar(l, caminho) {
      const n = l.varint(U64, caminho);
      // Todo item ocupa pelo menos um byte: uma contagem maior que o resto é um corpo truncado
      // (e não se reserva memória para ela).
      if (n > l.restantes()) throw new ErroDeQuadro(`truncado em ${caminho}`);
      const r = [];
      for (let i = 0; i < n; i++) r.push(item.decodificar(l, `${caminho}[${i}]`));
      return r;
    },
  };
}

function opcao(tipo) {
  return {
    opcional: true,
    codificar(e, v, caminho) {
      if (v === null || v === undefined) {
        e.byte(0);
      } else {
        e.byte(1);
        tipo.codificar(e, v, caminho);
      }
    },
    decodificar(l, caminho) {
      const b = l.byte(caminho);
      if (b === 0) return null;
      if (b === 1) return tipo.decodificar(l, caminho);
      throw new ErroDeQuadro(`${caminho}: marca de option inválida (${b})`);
    },
  };
}

function codificarCampos(e, campos, v, caminho) {
  for (const [nome, tipo] of campos) {
    const x = v[nome];
    if (x === undefined && !tipo.opcional) throw new ErroDeQuadro(`${caminho}.${nome}: campo ausente`);
    tipo.codificar(e, x, `${caminho}.${nome}`);
  }
}

function decodificarCampos(l, campos, alvo, caminho) {
  for (const [nome, tipo] of campos) alvo[nome] = tipo.decodificar(l, `${caminho}.${nome}`);
  return alvo;
}

function ehObjeto(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Um struct: os campos em ordem, nada mais. `campos` é [[nome, tipo], ...]. */
function struct(nome, campos) {
  return {
    nome,
    campos,
    codificar(e, v, caminho) {
      if (!ehObjeto(v)) throw new ErroDeQuadro(`${caminho}: ${nome} esperado, veio ${descrever(v)}`);
      codificarCampos(e, campos, v, caminho);
    },
    decodificar(l, caminho) {
      return decodificarCampos(l, campos, {}, caminho);
    },
  };
}

/** Um enum com dados: `{ tipo: variante, ...campos }`. `variantes` é [[nome, campos], ...] na ordem dos índices. */
function enumeracao(nome, variantes) {
  const porNome = new Map(variantes.map(([v, campos], i) => [v, { indice: i, campos }]));
  return {
    nome,
    variantes: variantes.map(([v]) => v),
    codificar(e, v, caminho) {
      if (!ehObjeto(v)) throw new ErroDeQuadro(`${caminho}: ${nome} esperado, veio ${descrever(v)}`);
      const variante = porNome.get(v.tipo);
      if (!variante || !Object.hasOwn(v, 'tipo')) {
        throw new ErroDeQuadro(`${caminho}: ${nome} sem a variante ${descrever(v.tipo)}`);
      }
      e.varint(variante.indice);
      codificarCampos(e, variante.campos, v, `${caminho}.${v.tipo}`);
    },
    decodificar(l, caminho) {
      const i = l.varint(U32, caminho);
      if (i >= variantes.length) throw new ErroDeQuadro(`${caminho}: variante ${i} desconhecida de ${nome}`);
      const [tipo, campos] = variantes[i];
      return decodificarCampos(l, campos, { tipo }, `${caminho}.${tipo}`);
    },
  };
}

/** Um enum sem campos em nenhuma variante: uma string. */
function enumSimples(nome, variantes) {
  const porNome = new Map(variantes.map((v, i) => [v, i]));
  return {
    nome,
    variantes,
    codificar(e, v, caminho) {
      const i = typeof v === 'string' ? porNome.get(v) : undefined;
      if (i === undefined) throw new ErroDeQuadro(`${caminho}: ${nome} sem a variante ${descrever(v)}`);
      e.varint(i);
    },
    decodificar(l, caminho) {
      const i = l.varint(U32, caminho);
      if (i >= variantes.length) throw new ErroDeQuadro(`${caminho}: variante ${i} desconhecida de ${nome}`);
      return variantes[i];
    },
  };
}

function descrever(v) {
  if (v === null) return 'null';
  if (v instanceof Uint8Array) return `Uint8Array(${v.length})`;
  if (Array.isArray(v)) return 'lista';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'object') return 'objeto';
  return `${typeof v} ${String(v)}`;
}

// ---------------------------------------------------------------------------------------------
// O esquema: uma linha por variante, na ordem dos índices de PROTOCOL.md.

const Destino = enumeracao('Destino', [
  ['Departamento', [['nome', string]]],
  ['Atendente', [['nome', string]]],
]);

const Retomada = struct('Retomada', [
  ['ficha', bytes16],
  ['recebidos', u64],
]);

const Papel = enumeracao('Papel', [
  ['Cliente', [['departamento', string]]],
  ['Atendente', [['departamentos', lista(string)], ['capacidade', u8]]],
  ['Supervisor', []],
]);

const ParaBroker = enumeracao('ParaBroker', [
  ['Apresentacao', [
    ['versao', u16], ['nome', string], ['papel', Papel], ['token', opcao(string)], ['retomar', opcao(Retomada)],
  ]],
  ['Mensagem', [['conversa', u64], ['texto', string], ['seq', u64]]],
  ['Encerrar', [['conversa', u64], ['seq', u64]]],
  ['Sair', [['seq', u64]]],
  ['Pausar', [['seq', u64]]],
  ['Voltar', [['seq', u64]]],
  ['Pong', []],
  ['Recebidos', [['total', u64]]],
  ['Transferir', [['conversa', u64], ['destino', Destino], ['seq', u64]]],
  ['Avaliar', [['conversa', u64], ['nota', u8], ['seq', u64]]],
]);

const MotivoFim = enumSimples('MotivoFim', [
  'ClienteSaiu', 'ClienteDesconectou', 'AtendenteEncerrou', 'AtendenteSaiu', 'AtendenteDesconectou',
  'BrokerEncerrando', 'SemResposta', 'Transferido',
]);

const CodigoErro = enumSimples('CodigoErro', [
  'VersaoIncompativel', 'ApresentacaoEsperada', 'NomeInvalido', 'NomeEmUso', 'DepartamentoInvalido',
  'QuadroInvalido', 'QuadroGrande', 'PrazoEsgotado', 'SemConversa', 'TextoInvalido',
  'ApresentacaoRepetida', 'ApenasAtendente', 'FilaCheia', 'LimiteDeConexoes', 'MuitasMensagens',
  'NaoAutorizado', 'RetomadaInvalida', 'TransferenciaRecusada', 'EsperaCheia', 'AvaliacaoInvalida',
]);

const EstadoAtendente = enumSimples('EstadoAtendente', ['Livre', 'EmConversa', 'Pausado', 'Ausente']);

const Fala = struct('Fala', [['de', string], ['do_atendente', bool], ['texto', string]]);

const Anterior = struct('Anterior', [
  ['conversa', u64], ['inicio_ms', u64], ['departamento', string], ['atendente', string],
  ['motivo', opcao(MotivoFim)], ['mensagens', u32],
]);

const PainelDepartamento = struct('PainelDepartamento', [
  ['nome', string], ['aguardando', u32], ['maior_espera_ms', u64], ['estimativa_s', opcao(u32)],
  ['atendentes_online', u32], ['atendentes_em_conversa', u32], ['atendentes_pausados', u32],
  ['conversas', u32], ['chegadas_hoje', u32], ['atendidos_hoje', u32], ['no_prazo_hoje', u32],
  ['abandonos_hoje', u32],
]);

const PainelConversa = struct('PainelConversa', [
  ['conversa', u64], ['cliente', string], ['departamento', string], ['ha_ms', u64],
]);

const PainelAtendente = struct('PainelAtendente', [
  ['nome', string], ['departamentos', lista(string)], ['capacidade', u8], ['estado', EstadoAtendente],
  ['ha_ms', u64], ['conversas', lista(PainelConversa)],
]);

const Painel = struct('Painel', [
  ['meta_ms', u64], ['departamentos', lista(PainelDepartamento)], ['atendentes', lista(PainelAtendente)],
  ['omitidos', u32],
]);

const DoBroker = enumeracao('DoBroker', [
  ['BemVindo', [
    ['sessao', u64], ['batimento_ms', u64], ['ficha', bytes16], ['tolerancia_ms', u64], ['retomada', bool],
    ['ultima_aceita', u64], ['mensagens_por_segundo', u32], ['rajada', u32], ['capacidade', u8],
  ]],
  ['Fila', [['posicao', u32], ['atendentes', u32], ['estimativa_s', opcao(u32)]]],
  ['Conectado', [['com', string], ['conversa', u64], ['departamento', string], ['espera_ms', u64]]],
  ['Mensagem', [['conversa', u64], ['de', string], ['texto', string]]],
  ['Fim', [['conversa', u64], ['motivo', MotivoFim]]],
  ['Erro', [['codigo', CodigoErro], ['texto', string]]],
  ['Espera', [['clientes', u32]]],
  ['Pausa', [['pausado', bool]]],
  ['Ping', []],
  ['Anteriores', [['conversa', u64], ['conversas', lista(Anterior)]]],
  ['Confirmada', [['seq', u64]]],
  ['Parceiro', [['conversa', u64], ['conectado', bool]]],
  ['Transferido', [['conversa', u64], ['para', string]]],
  ['Transcricao', [['conversa', u64], ['omitidas', u64], ['falas', lista(Fala)]]],
  ['Departamentos', [['nomes', lista(string)]]],
  ['NaEspera', [['conversa', u64], ['textos', lista(string)]]],
  ['Avaliacao', [['conversa', u64], ['prazo_s', u32]]],
  ['Painel', [['painel', Painel]]],
]);

/** Variant names, in index order (for UIs and tests). */
export const VARIANTES = Object.freeze({
  ParaBroker: Object.freeze([...ParaBroker.variantes]),
  DoBroker: Object.freeze([...DoBroker.variantes]),
  MotivoFim: Object.freeze([...MotivoFim.variantes]),
  CodigoErro: Object.freeze([...CodigoErro.variantes]),
  EstadoAtendente: Object.freeze([...EstadoAtendente.variantes]),
});

// ---------------------------------------------------------------------------------------------
// API

function codificar(tipo, valor, maximo) {
  const e = new Escritor();
  tipo.codificar(e, valor, tipo.nome);
  if (e.tamanho > maximo) {
    throw new ErroDeQuadro(`${tipo.nome}: corpo de ${e.tamanho} bytes, acima do máximo de ${maximo}`);
  }
  return e.resultado();
}

function comoBytes(bytes) {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  if (ArrayBuffer.isView(bytes)) return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw new ErroDeQuadro(`bytes esperados (Uint8Array, ArrayBuffer), veio ${descrever(bytes)}`);
}

function decodificar(tipo, bytes, maximo) {
  const b = comoBytes(bytes);
  if (b.length > maximo) throw new ErroDeQuadro(`corpo de ${b.length} bytes, acima do máximo de ${maximo}`);
  const l = new Leitor(b);
  const valor = tipo.decodificar(l, tipo.nome);
  if (l.restantes() !== 0) throw new ErroDeQuadro(`${l.restantes()} byte(s) a mais depois do valor`);
  return valor;
}

/**
 * Encodes a peer-to-broker frame's body (no length prefix).
 * @param {object} valor e.g. `{ tipo: 'Mensagem', conversa: 0, texto: 'oi', seq: 1 }`
 * @param {{ maximo?: number }} [opcoes] the largest body allowed (default TAMANHO_MAXIMO_QUADRO)
 * @returns {Uint8Array}
 */
export function codificarParaBroker(valor, { maximo = TAMANHO_MAXIMO_QUADRO } = {}) {
  return codificar(ParaBroker, valor, maximo);
}

/** Decodes a peer-to-broker frame's body (Uint8Array, ArrayBuffer or other view). */
export function decodificarParaBroker(bytes, { maximo = TAMANHO_MAXIMO_QUADRO } = {}) {
  return decodificar(ParaBroker, bytes, maximo);
}

/** Encodes a broker-to-peer frame's body (no length prefix). */
export function codificarDoBroker(valor, { maximo = TAMANHO_MAXIMO_QUADRO } = {}) {
  return codificar(DoBroker, valor, maximo);
}

/** Decodes a broker-to-peer frame's body (Uint8Array, ArrayBuffer or other view). */
export function decodificarDoBroker(bytes, { maximo = TAMANHO_MAXIMO_QUADRO } = {}) {
  return decodificar(DoBroker, bytes, maximo);
}

/** The whole TCP frame: a 4-byte big-endian length, then the body. (The WebSocket carries bodies only.) */
export function enquadrar(corpo) {
  const b = comoBytes(corpo);
  const quadro = new Uint8Array(4 + b.length);
  new DataView(quadro.buffer).setUint32(0, b.length, false);
  quadro.set(b, 4);
  return quadro;
}
