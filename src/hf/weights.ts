/**
 * Parameter names: kexue's `Encoder` ↔ Hugging Face's BertModel / BertForMaskedLM (and RoBERTa's)
 * state dicts. Hugging Face's nn.Linear stores weight [out, in]; kexue's Linear stores kernel [in, out],
 * so dense kernels are transposed (an exact permutation: round trips are bit-identical).
 */
import type { HfModelType } from './config.js';

/** Where a kexue parameter lives in a Hugging Face checkpoint. */
export interface HfParam {
  /** The name without the model prefix ('bert.' / 'roberta.'), e.g. 'encoder.layer.0.output.dense.weight'. */
  name: string;
  /** Whether the name is under the model prefix (the encoder body) or a head at the top level ('cls.', 'lm_head.'). */
  body: boolean;
  /** Dense kernel: stored transposed. */
  transpose: boolean;
}

const LINEAR: Record<string, string> = {
  'attention.query': 'attention.self.query',
  'attention.key': 'attention.self.key',
  'attention.value': 'attention.self.value',
  'attention.output': 'attention.output.dense',
  'ffn.inner': 'intermediate.dense',
  'ffn.outer': 'output.dense',
};
const NORM: Record<string, string> = {
  attentionNorm: 'attention.output.LayerNorm',
  ffnNorm: 'output.LayerNorm',
};
const LN: Record<string, string> = { gamma: 'weight', beta: 'bias' };

/** The Hugging Face name of kexue parameter `name`, or undefined for a parameter BERT does not have. */
export function hfParam(name: string, type: HfModelType): HfParam | undefined {
  const body = (n: string, transpose = false): HfParam => ({ name: n, body: true, transpose });
  const head = (n: string, transpose = false): HfParam => ({ name: n, body: false, transpose });
  const emb = /^embeddings\.(word|position|type)\.table$/.exec(name);
  if (emb) {
    const t = { word: 'word', position: 'position', type: 'token_type' }[emb[1] as 'word'];
    return body(`embeddings.${t}_embeddings.weight`);
  }
  let m = /^embeddings\.norm\.(gamma|beta)$/.exec(name);
  if (m) return body(`embeddings.LayerNorm.${LN[m[1]]}`);
  m = /^layers\.(\d+)\.(attention\.(?:query|key|value|output)|ffn\.(?:inner|outer))\.(kernel|bias)$/.exec(
    name,
  );
  if (m) {
    const kernel = m[3] === 'kernel';
    return body(`encoder.layer.${m[1]}.${LINEAR[m[2]]}.${kernel ? 'weight' : 'bias'}`, kernel);
  }
  m = /^layers\.(\d+)\.(attentionNorm|ffnNorm)\.(gamma|beta)$/.exec(name);
  if (m) return body(`encoder.layer.${m[1]}.${NORM[m[2]]}.${LN[m[3]]}`);
  m = /^pooler\.dense\.(kernel|bias)$/.exec(name);
  if (m) return body(`pooler.dense.${m[1] === 'kernel' ? 'weight' : 'bias'}`, m[1] === 'kernel');
  const roberta = type === 'roberta';
  m = /^mlm\.dense\.(kernel|bias)$/.exec(name);
  if (m) {
    const prefix = roberta ? 'lm_head.dense' : 'cls.predictions.transform.dense';
    return head(`${prefix}.${m[1] === 'kernel' ? 'weight' : 'bias'}`, m[1] === 'kernel');
  }
  m = /^mlm\.norm\.(gamma|beta)$/.exec(name);
  if (m) return head(`${roberta ? 'lm_head.layer_norm' : 'cls.predictions.transform.LayerNorm'}.${LN[m[1]]}`);
  if (name === 'mlm.bias') return head(roberta ? 'lm_head.bias' : 'cls.predictions.bias');
  return undefined;
}

/**
 * Other names under which a checkpoint may hold the same values: TF-converted checkpoints' LayerNorm
 * gamma/beta, and the decoder bias that Hugging Face ties to the MLM bias.
 */
export function hfAliases(p: HfParam): string[] {
  const out: string[] = [];
  if (/LayerNorm\.weight$/.test(p.name)) out.push(p.name.replace(/weight$/, 'gamma'));
  if (/LayerNorm\.bias$/.test(p.name)) out.push(p.name.replace(/bias$/, 'beta'));
  if (p.name === 'cls.predictions.bias') out.push('cls.predictions.decoder.bias');
  if (p.name === 'lm_head.bias') out.push('lm_head.decoder.bias');
  return out;
}

/** The MLM decoder weight, tied to the word embeddings in BERT and RoBERTa (often left out of the file). */
export function hfDecoderWeight(type: HfModelType): string {
  return type === 'roberta' ? 'lm_head.decoder.weight' : 'cls.predictions.decoder.weight';
}

/** Transposes a row-major [rows, cols] matrix. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}
