// protocolo.test.js — checks the codec against every byte example of PROTOCOL.md (decoded AND
// encoded), the varint examples of its encoding table, and the decoder's strictness.
// Run with `node --test test/` from web/.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  codificarParaBroker, decodificarParaBroker, codificarDoBroker, decodificarDoBroker, enquadrar,
  ErroDeQuadro, VERSAO_PROTOCOLO, TAMANHO_MAXIMO_QUADRO, VARIANTES,
} from '../src/protocolo.js';

/** "01 07 04" -> Uint8Array; ignores white space. */
function hex(s) {
  const limpo = s.replace(/\s+/g, '');
  assert.match(limpo, /^([0-9a-f]{2})*$/, `hex inválido: ${s}`);
  return Uint8Array.from(limpo.match(/../g) ?? [], (h) => parseInt(h, 16));
}

function paraHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

const utf8 = (s) => new TextEncoder().encode(s);
const juntar = (...partes) => {
  const r = new Uint8Array(partes.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of partes) { r.set(p, i); i += p.length; }
  return r;
};
const dezesseis = (b) => new Uint8Array(16).fill(b);

// Every hex string copied from PROTOCOL.md is registered here, so that one test can check that the
// document still says exactly that.
const DO_DOCUMENTO = [];
function doc(s) {
  DO_DOCUMENTO.push(s);
  return hex(s);
}

const VISTAS = { para: new Set(), do: new Set() };
function idaEVolta(direcao, valor, bytes) {
  VISTAS[direcao].add(valor.tipo);
  const [codificar, decodificar] = direcao === 'para'
    ? [codificarParaBroker, decodificarParaBroker]
    : [codificarDoBroker, decodificarDoBroker];
  assert.equal(paraHex(codificar(valor)), paraHex(bytes), 'codificação difere do documento');
  assert.deepEqual(decodificar(bytes), valor, 'decodificação difere do documento');
}

describe('constants', () => {
  test('version and frame size', () => {
    assert.equal(VERSAO_PROTOCOLO, 12);
    assert.equal(TAMANHO_MAXIMO_QUADRO, 65536);
  });
});

describe('PROTOCOL.md examples: handshakes', () => {
  test('Ana joins geral (whole frame with length 15)', () => {
    const quadro = juntar(
      doc('00 00 00 0f'), doc('00'), doc('0c'), doc('03 41 6e 61'), doc('00'),
      doc('05 67 65 72 61 6c'), doc('00'), doc('00'),
    );
    const valor = {
      tipo: 'Apresentacao', versao: 12, nome: 'Ana',
      papel: { tipo: 'Cliente', departamento: 'geral' }, token: null, retomar: null,
    };
    assert.equal(quadro.length, 4 + 15);
    idaEVolta('para', valor, quadro.subarray(4));
    assert.equal(paraHex(enquadrar(codificarParaBroker(valor))), paraHex(quadro));
  });

  test('Ana resumes with ficha sixteen 01 and 3 received', () => {
    const corpo = juntar(doc('00 0c 03 41 6e 61 00 05 67 65 72 61 6c 00 01'), dezesseis(0x01), doc('03'));
    idaEVolta('para', {
      tipo: 'Apresentacao', versao: 12, nome: 'Ana',
      papel: { tipo: 'Cliente', departamento: 'geral' }, token: null,
      retomar: { ficha: dezesseis(0x01), recebidos: 3 },
    }, corpo);
  });

  test('agent Yuri, geral and vendas, capacity 3, token abc', () => {
    idaEVolta('para', {
      tipo: 'Apresentacao', versao: 12, nome: 'Yuri',
      papel: { tipo: 'Atendente', departamentos: ['geral', 'vendas'], capacidade: 3 },
      token: 'abc', retomar: null,
    }, doc('00 0c 04 59 75 72 69 01 02 05 67 65 72 61 6c 06 76 65 6e 64 61 73 03 01 03 61 62 63 00'));
  });

  test('supervisor Rita, token sup', () => {
    idaEVolta('para', {
      tipo: 'Apresentacao', versao: 12, nome: 'Rita', papel: { tipo: 'Supervisor' }, token: 'sup', retomar: null,
    }, doc('00 0c 04 52 69 74 61 02 01 03 73 75 70 00'));
  });
});

describe('PROTOCOL.md examples: Painel', () => {
  test('the Painel body', () => {
    const corpo = juntar(
      doc('11'),
      doc('a0 9c 01'),
      doc('01'),
      doc('05 67 65 72 61 6c'),
      doc('02 dc 0b 01 5a'),
      doc('01 01 00 01'),
      doc('05 03 02 01'),
      doc('01'),
      doc('04 59 75 72 69'),
      doc('01 05 67 65 72 61 6c'),
      doc('01 01 e0 d4 03'),
      doc('01 07 03 41 6e 61'),
      doc('05 67 65 72 61 6c e0 d4 03'),
      doc('00'),
    );
    idaEVolta('do', {
      tipo: 'Painel',
      painel: {
        meta_ms: 20000,
        departamentos: [{
          nome: 'geral', aguardando: 2, maior_espera_ms: 1500, estimativa_s: 90,
          atendentes_online: 1, atendentes_em_conversa: 1, atendentes_pausados: 0, conversas: 1,
          chegadas_hoje: 5, atendidos_hoje: 3, no_prazo_hoje: 2, abandonos_hoje: 1,
        }],
        atendentes: [{
          nome: 'Yuri', departamentos: ['geral'], capacidade: 1, estado: 'EmConversa', ha_ms: 60000,
          conversas: [{ conversa: 7, cliente: 'Ana', departamento: 'geral', ha_ms: 60000 }],
        }],
        omitidos: 0,
      },
    }, corpo);
  });
});

describe('PROTOCOL.md examples: peer to broker table', () => {
  const linhas = [
    ['Mensagem { conversa: 7, texto: "olá", seq: 1 }',
      { tipo: 'Mensagem', conversa: 7, texto: 'olá', seq: 1 }, '01 07 04 6f 6c c3 a1 01'],
    ['Encerrar { conversa: 7, seq: 4 }', { tipo: 'Encerrar', conversa: 7, seq: 4 }, '02 07 04'],
    ['Encerrar { conversa: 1, seq: 0 }', { tipo: 'Encerrar', conversa: 1, seq: 0 }, '02 01 00'],
    ['Sair { seq: 0 }', { tipo: 'Sair', seq: 0 }, '03 00'],
    ['Pausar { seq: 2 }', { tipo: 'Pausar', seq: 2 }, '04 02'],
    ['Voltar { seq: 300 }', { tipo: 'Voltar', seq: 300 }, '05 ac 02'],
    ['Pong', { tipo: 'Pong' }, '06'],
    ['Recebidos { total: 130 }', { tipo: 'Recebidos', total: 130 }, '07 82 01'],
    ['Transferir to Atendente("Zoe")',
      { tipo: 'Transferir', conversa: 7, destino: { tipo: 'Atendente', nome: 'Zoe' }, seq: 3 },
      '08 07 01 03 5a 6f 65 03'],
    ['Transferir to Departamento("vendas")',
      { tipo: 'Transferir', conversa: 7, destino: { tipo: 'Departamento', nome: 'vendas' }, seq: 0 },
      '08 07 00 06 76 65 6e 64 61 73 00'],
    ['Avaliar { conversa: 7, nota: 5, seq: 4 }', { tipo: 'Avaliar', conversa: 7, nota: 5, seq: 4 }, '09 07 05 04'],
  ];
  for (const [nome, valor, bytes] of linhas) {
    test(nome, () => idaEVolta('para', valor, doc(bytes)));
  }

  test('Encerrar { conversa: 1, seq: 0 } as a whole frame', () => {
    assert.equal(
      paraHex(enquadrar(codificarParaBroker({ tipo: 'Encerrar', conversa: 1, seq: 0 }))),
      paraHex(doc('00 00 00 03 02 01 00')),
    );
  });
});

describe('PROTOCOL.md examples: broker to peer table', () => {
  test('BemVindo', () => {
    const corpo = juntar(doc('00 05 98 75'), dezesseis(0xab), doc('e0 d4 03 00 00 0a 14 03'));
    idaEVolta('do', {
      tipo: 'BemVindo', sessao: 5, batimento_ms: 15000, ficha: dezesseis(0xab), tolerancia_ms: 60000,
      retomada: false, ultima_aceita: 0, mensagens_por_segundo: 10, rajada: 20, capacidade: 3,
    }, corpo);
  });

  const linhas = [
    ['Ping', { tipo: 'Ping' }, '08'],
    ['Fila { posicao: 300, atendentes: 1, estimativa_s: None }',
      { tipo: 'Fila', posicao: 300, atendentes: 1, estimativa_s: null }, '01 ac 02 01 00'],
    ['Fila { posicao: 3, atendentes: 2, estimativa_s: Some(240) }',
      { tipo: 'Fila', posicao: 3, atendentes: 2, estimativa_s: 240 }, '01 03 02 01 f0 01'],
    ['Departamentos { nomes: ["geral", "vendas"] }',
      { tipo: 'Departamentos', nomes: ['geral', 'vendas'] }, '0e 02 05 67 65 72 61 6c 06 76 65 6e 64 61 73'],
    ['NaEspera { conversa: 7, textos: ["oi", "tem frete?"] }',
      { tipo: 'NaEspera', conversa: 7, textos: ['oi', 'tem frete?'] },
      '0f 07 02 02 6f 69 0a 74 65 6d 20 66 72 65 74 65 3f'],
    ['Avaliacao { conversa: 7, prazo_s: 120 }', { tipo: 'Avaliacao', conversa: 7, prazo_s: 120 }, '10 07 78'],
    ['Conectado { com: "Yuri", conversa: 7, departamento: "geral", espera_ms: 1500 }',
      { tipo: 'Conectado', com: 'Yuri', conversa: 7, departamento: 'geral', espera_ms: 1500 },
      '02 04 59 75 72 69 07 05 67 65 72 61 6c dc 0b'],
    ['Mensagem { conversa: 7, de: "Yuri", texto: "olá" }',
      { tipo: 'Mensagem', conversa: 7, de: 'Yuri', texto: 'olá' }, '03 07 04 59 75 72 69 04 6f 6c c3 a1'],
    ['Fim { conversa: 7, motivo: AtendenteDesconectou }',
      { tipo: 'Fim', conversa: 7, motivo: 'AtendenteDesconectou' }, '04 07 04'],
    ['Fim { conversa: 9, motivo: SemResposta }', { tipo: 'Fim', conversa: 9, motivo: 'SemResposta' }, '04 09 06'],
    ['Fim { conversa: 9, motivo: Transferido }', { tipo: 'Fim', conversa: 9, motivo: 'Transferido' }, '04 09 07'],
    ['Transferido { conversa: 7, para: "vendas" }',
      { tipo: 'Transferido', conversa: 7, para: 'vendas' }, '0c 07 06 76 65 6e 64 61 73'],
    ['Transcricao with one Fala',
      { tipo: 'Transcricao', conversa: 7, omitidas: 0, falas: [{ de: 'Ana', do_atendente: false, texto: 'oi' }] },
      '0d 07 00 01 03 41 6e 61 00 02 6f 69'],
    ['Espera { clientes: 3 }', { tipo: 'Espera', clientes: 3 }, '06 03'],
    ['Pausa { pausado: true }', { tipo: 'Pausa', pausado: true }, '07 01'],
    ['Confirmada { seq: 2 }', { tipo: 'Confirmada', seq: 2 }, '0a 02'],
    ['Parceiro { conversa: 7, conectado: false }', { tipo: 'Parceiro', conversa: 7, conectado: false }, '0b 07 00'],
    ['Anteriores with one Anterior',
      {
        tipo: 'Anteriores', conversa: 9,
        conversas: [{
          conversa: 4, inicio_ms: 1000, departamento: 'geral', atendente: 'Yuri', motivo: 'ClienteSaiu', mensagens: 6,
        }],
      },
      '09 09 01 04 e8 07 05 67 65 72 61 6c 04 59 75 72 69 01 00 06'],
  ];
  for (const [nome, valor, bytes] of linhas) {
    test(nome, () => idaEVolta('do', valor, doc(bytes)));
  }

  // Rows whose text the document elides: a text of our own after the given prefix.
  for (const [codigo, prefixo] of [['EsperaCheia', '05 12'], ['AvaliacaoInvalida', '05 13']]) {
    test(`Erro { codigo: ${codigo}, texto: ... }`, () => {
      const texto = 'texto de teste, com acentuação';
      const corpo = codificarDoBroker({ tipo: 'Erro', codigo, texto });
      const p = doc(prefixo);
      assert.equal(paraHex(corpo.subarray(0, p.length)), paraHex(p));
      assert.equal(corpo[p.length], utf8(texto).length); // comprimento (< 128: um byte)
      assert.equal(corpo.length, p.length + 1 + utf8(texto).length);
      assert.equal(paraHex(corpo.subarray(p.length + 1)), paraHex(utf8(texto)));
      assert.deepEqual(decodificarDoBroker(corpo), { tipo: 'Erro', codigo, texto });
    });
  }

  test('Erro { codigo: SemConversa, texto: "você não está em uma conversa" }', () => {
    const texto = 'você não está em uma conversa';
    assert.equal(utf8(texto).length, 32);
    idaEVolta('do', { tipo: 'Erro', codigo: 'SemConversa', texto }, juntar(doc('05 08 20'), utf8(texto)));
  });
});

describe('varints (the encoding table)', () => {
  // 0 is 00, 127 is 7f, 128 is 80 01, 300 is ac 02: as u64 (Confirmada.seq), u32 (Fila.posicao)
  // and u16 (Apresentacao.versao).
  const exemplos = [[0, '00'], [127, '7f'], [128, '80 01'], [300, 'ac 02']];
  for (const [n, bytes] of exemplos) {
    test(`${n} is ${bytes}`, () => {
      idaEVolta('do', { tipo: 'Confirmada', seq: n }, juntar(hex('0a'), doc(bytes)));
      idaEVolta('do', { tipo: 'Fila', posicao: n, atendentes: 0, estimativa_s: null }, juntar(hex('01'), hex(bytes), hex('00 00')));
      const ap = decodificarParaBroker(juntar(hex('00'), hex(bytes), hex('00 02 00 00')));
      assert.equal(ap.versao, n);
    });
  }

  test('largest values of each width', () => {
    idaEVolta('para', { tipo: 'Apresentacao', versao: 0xffff, nome: '', papel: { tipo: 'Supervisor' }, token: null, retomar: null },
      hex('00 ff ff 03 00 02 00 00'));
    idaEVolta('do', { tipo: 'Espera', clientes: 0xffffffff }, hex('06 ff ff ff ff 0f'));
    idaEVolta('do', { tipo: 'Confirmada', seq: Number.MAX_SAFE_INTEGER }, hex('0a ff ff ff ff ff ff ff 0f'));
  });

  test('u8 is one raw byte, not a varint', () => {
    idaEVolta('para', { tipo: 'Avaliar', conversa: 7, nota: 255, seq: 4 }, hex('09 07 ff 04'));
    idaEVolta('para', {
      tipo: 'Apresentacao', versao: 12, nome: 'Yuri', papel: { tipo: 'Atendente', departamentos: ['geral'], capacidade: 200 },
      token: null, retomar: null,
    }, hex('00 0c 04 59 75 72 69 01 01 05 67 65 72 61 6c c8 00 00'));
    const bv = decodificarDoBroker(juntar(hex('00 05 98 75'), dezesseis(0xab), hex('e0 d4 03 00 00 0a 14 80')));
    assert.equal(bv.capacidade, 128);
  });

  test('lone surrogates are refused by the encoder, on either side', () => {
    for (const texto of ['\uD800', 'a\uDC00', '\uDBFFz', '\uDC00\uD800']) {
      assert.throws(() => codificarParaBroker({ tipo: 'Mensagem', conversa: 0, texto, seq: 1 }), ErroDeQuadro);
    }
    assert.equal(decodificarParaBroker(codificarParaBroker({ tipo: 'Mensagem', conversa: 0, texto: '😀', seq: 1 })).texto, '😀');
  });

  test('a non-minimal varint within its width is accepted (like postcard)', () => {
    assert.deepEqual(decodificarDoBroker(hex('0a 80 00')), { tipo: 'Confirmada', seq: 0 });
    assert.deepEqual(decodificarDoBroker(hex('0a 80 80 80 80 80 80 80 80 80 00')), { tipo: 'Confirmada', seq: 0 });
  });
});

describe('decoding is strict', () => {
  const rejeita = (bytes, padrao, direcao = 'do') => {
    const f = direcao === 'do' ? decodificarDoBroker : decodificarParaBroker;
    assert.throws(() => f(hex(bytes)), (e) => e instanceof ErroDeQuadro && (!padrao || padrao.test(e.message)));
  };

  test('unknown variants', () => {
    rejeita('12', /desconhecida/); // DoBroker 18
    rejeita('0a', /desconhecida/, 'para'); // ParaBroker 10
    rejeita('04 07 08', /desconhecida/); // MotivoFim 8
    rejeita('05 14 00', /desconhecida/); // CodigoErro 20
    rejeita('00 0c 03 41 6e 61 03 00 00', /desconhecida/, 'para'); // Papel 3
    rejeita('08 07 02 00 03', /desconhecida/, 'para'); // Destino 2
    rejeita('80 01', /desconhecida/); // a variant index of 128, in two bytes
  });

  test('empty and truncated bodies', () => {
    rejeita('', /truncado/);
    const bom = '0f 07 02 02 6f 69 0a 74 65 6d 20 66 72 65 74 65 3f';
    const b = hex(bom);
    for (let n = 0; n < b.length; n++) {
      assert.throws(() => decodificarDoBroker(b.subarray(0, n)), ErroDeQuadro, `prefixo de ${n} bytes`);
    }
    rejeita('0a 80', /truncado/); // varint cut in the middle
    rejeita('0e ff ff ff ff 0f', /truncado/); // a huge list count
    rejeita('03 07 03 59 75 72 ff ff ff ff ff ff ff 0f', /truncado/); // a huge string length
  });

  test('bytes left over', () => {
    rejeita('08 00', /a mais/);
    rejeita('06 00', /a mais/, 'para');
    rejeita('01 07 04 6f 6c c3 a1 01 00', /a mais/, 'para');
  });

  test('bad UTF-8', () => {
    rejeita('03 07 04 59 75 72 69 02 c3 28', /UTF-8/); // invalid continuation
    rejeita('03 07 01 ff 02 6f 69', /UTF-8/); // 0xff
    rejeita('03 07 04 59 75 72 69 03 ed a0 80', /UTF-8/); // an encoded surrogate
    rejeita('03 07 04 59 75 72 69 02 c0 80', /UTF-8/); // overlong NUL
    rejeita('03 07 04 59 75 72 69 01 c3', /UTF-8/); // cut inside a character
  });

  test('a leading BOM is part of the text', () => {
    const texto = utf8('\uFEFFolá');
    const corpo = juntar(hex('03 07 01 41'), Uint8Array.of(texto.length), texto);
    assert.equal(decodificarDoBroker(corpo).texto, '\uFEFFolá');
    assert.equal(paraHex(codificarDoBroker(decodificarDoBroker(corpo))), paraHex(corpo));
  });

  test('overlong and overflowing varints', () => {
    rejeita('00 80 80 80 00 00 00 02 00 00', /longo/, 'para'); // u16 in 4 bytes
    rejeita('00 ff ff 04 00 02 00 00', /acima de u16/, 'para'); // 65536 + ... in 3 bytes
    rejeita('06 80 80 80 80 80 00', /longo/); // u32 in 6 bytes
    rejeita('06 ff ff ff ff 1f', /acima de u32/); // above 2^32 - 1
    rejeita('0a 80 80 80 80 80 80 80 80 80 80 00', /longo/); // u64 in 11 bytes
    rejeita('0a ff ff ff ff ff ff ff ff ff 02', /acima de u64/); // above 2^64 - 1
    rejeita('0a 80 80 80 80 80 80 80 10', /MAX_SAFE_INTEGER/); // 2^53
    rejeita('0a ff ff ff ff ff ff ff ff ff 01', /MAX_SAFE_INTEGER/); // 2^64 - 1
    rejeita('80 80 80 80 80 00', /longo/); // a variant index (u32) in 6 bytes
    rejeita('03 07 04 59 75 72 69 80 80 80 80 80 80 80 80 80 80 00', /longo/); // a string length
  });

  test('bool and option tags other than 00 and 01', () => {
    rejeita('07 02', /bool/);
    rejeita('0b 07 ff', /bool/);
    rejeita('01 03 02 02 f0 01', /option/);
  });

  test('a body above the maximum frame size', () => {
    const grande = codificarDoBroker({ tipo: 'Mensagem', conversa: 1, de: 'x', texto: 'a'.repeat(TAMANHO_MAXIMO_QUADRO - 8) });
    assert.equal(decodificarDoBroker(grande).texto.length, TAMANHO_MAXIMO_QUADRO - 8);
    assert.throws(() => codificarDoBroker({ tipo: 'Mensagem', conversa: 1, de: 'x', texto: 'a'.repeat(TAMANHO_MAXIMO_QUADRO) }), ErroDeQuadro);
    assert.throws(() => decodificarDoBroker(new Uint8Array(TAMANHO_MAXIMO_QUADRO + 1)), ErroDeQuadro);
  });

  test('ArrayBuffer input and copied ficha', () => {
    const corpo = juntar(hex('00 05 98 75'), dezesseis(0xab), hex('e0 d4 03 00 00 0a 14 03'));
    const v = decodificarDoBroker(corpo.buffer);
    corpo.fill(0);
    assert.deepEqual(v.ficha, dezesseis(0xab));
  });

  test('random garbage only ever throws ErroDeQuadro', () => {
    let semente = 12345;
    const aleatorio = () => (semente = (semente * 1103515245 + 12345) >>> 0) / 2 ** 32;
    for (let i = 0; i < 3000; i++) {
      const n = Math.floor(aleatorio() * 24);
      const b = Uint8Array.from({ length: n }, () => Math.floor(aleatorio() * 256));
      if (i % 2) b[0] = Math.floor(aleatorio() * 19); // a valid variant, most of the time
      for (const f of [decodificarDoBroker, decodificarParaBroker]) {
        try {
          const v = f(b);
          // whatever decodes must encode back to the same bytes, unless a varint was not minimal
          const g = f === decodificarDoBroker ? codificarDoBroker : codificarParaBroker;
          const de = g(v);
          if (paraHex(de) !== paraHex(b)) assert.ok(b.length > de.length, 'só varints não mínimos encolhem');
        } catch (e) {
          if (!(e instanceof ErroDeQuadro)) throw e;
        }
      }
    }
  });
});

describe('encoding refuses values that do not fit', () => {
  const recusa = (valor, direcao = 'para') =>
    assert.throws(() => (direcao === 'para' ? codificarParaBroker : codificarDoBroker)(valor), ErroDeQuadro);

  test('bad values', () => {
    recusa({ tipo: 'Desconhecido' });
    recusa({ conversa: 0, texto: 'x', seq: 1 });
    recusa({ tipo: 'Mensagem', conversa: 0, texto: 'x' }); // seq missing
    recusa({ tipo: 'Mensagem', conversa: -1, texto: 'x', seq: 1 });
    recusa({ tipo: 'Mensagem', conversa: 1.5, texto: 'x', seq: 1 });
    recusa({ tipo: 'Mensagem', conversa: 2 ** 53, texto: 'x', seq: 1 });
    recusa({ tipo: 'Mensagem', conversa: 7n, texto: 'x', seq: 1 });
    recusa({ tipo: 'Mensagem', conversa: 0, texto: 5, seq: 1 });
    recusa({ tipo: 'Mensagem', conversa: 0, texto: 'a\uD800b', seq: 1 }); // lone surrogate
    recusa({ tipo: 'Avaliar', conversa: 7, nota: 256, seq: 1 });
    recusa({ tipo: 'Transferir', conversa: 7, destino: 'Zoe', seq: 1 });
    recusa({ tipo: 'Apresentacao', versao: 0x10000, nome: 'a', papel: { tipo: 'Supervisor' }, token: null, retomar: null });
    recusa({ tipo: 'Apresentacao', versao: 12, nome: 'a', papel: { tipo: 'Cliente', departamento: 'g' }, token: null,
      retomar: { ficha: new Uint8Array(15), recebidos: 0 } });
    recusa({ tipo: 'Fim', conversa: 0, motivo: 'Nenhum' }, 'do');
    recusa({ tipo: 'Pausa', pausado: 1 }, 'do');
    recusa({ tipo: 'Espera', clientes: 2 ** 32 }, 'do');
  });

  test('an omitted option encodes as none', () => {
    const v = { tipo: 'Apresentacao', versao: 12, nome: 'Ana', papel: { tipo: 'Cliente', departamento: 'geral' } };
    assert.equal(paraHex(codificarParaBroker(v)), '00 0c 03 41 6e 61 00 05 67 65 72 61 6c 00 00');
  });
});

test('every frame variant was round-tripped above', () => {
  assert.deepEqual(VARIANTES.ParaBroker, [
    'Apresentacao', 'Mensagem', 'Encerrar', 'Sair', 'Pausar', 'Voltar', 'Pong', 'Recebidos', 'Transferir', 'Avaliar',
  ]);
  assert.equal(VARIANTES.DoBroker.length, 18);
  assert.equal(VARIANTES.DoBroker[17], 'Painel');
  assert.equal(VARIANTES.CodigoErro.length, 20);
  assert.equal(VARIANTES.MotivoFim.length, 8);
  assert.deepEqual([...VISTAS.para].sort(), [...VARIANTES.ParaBroker].sort());
  assert.deepEqual([...VISTAS.do].sort(), [...VARIANTES.DoBroker].sort());
});

test('every hex string above is still in PROTOCOL.md', (t) => {
  let texto;
  try {
    texto = readFileSync(new URL('../../PROTOCOL.md', import.meta.url), 'utf8');
  } catch {
    t.skip('PROTOCOL.md not found next to web/');
    return;
  }
  assert.ok(DO_DOCUMENTO.length > 40, `só ${DO_DOCUMENTO.length} trechos registrados`);
  for (const trecho of DO_DOCUMENTO) {
    assert.ok(texto.includes(trecho), `PROTOCOL.md no longer contains "${trecho}"`);
  }
  assert.match(texto, /^Version \*\*12\*\*\./m);
});
