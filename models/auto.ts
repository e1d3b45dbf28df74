// Architecture registry: build a model from a config and an HF architecture name, and name the
// architecture of a model instance.

import {
  AlbertForMaskedLM, AlbertForPreTraining, AlbertForSequenceClassification, AlbertModel,
} from './albert.js';
import { BertModel, type ModelOptions } from './bert.js';
import {
  ALBERT_ARCHITECTURES, BERT_ARCHITECTURES,
  type AlbertConfig, type Architecture, type BertConfig, type ModelConfig,
} from './configs.js';
import {
  BertForMaskedLM, BertForNextSentencePrediction, BertForPreTraining, BertForQuestionAnswering,
  BertForSequenceClassification, BertForTokenClassification,
} from './heads.js';

export type AnyModel =
  | BertModel | BertForPreTraining | BertForMaskedLM | BertForNextSentencePrediction
  | BertForSequenceClassification | BertForTokenClassification | BertForQuestionAnswering
  | AlbertModel | AlbertForPreTraining | AlbertForMaskedLM | AlbertForSequenceClassification;

const BERT_CLASSES = {
  BertModel, BertForPreTraining, BertForMaskedLM, BertForNextSentencePrediction,
  BertForSequenceClassification, BertForTokenClassification, BertForQuestionAnswering,
};
const ALBERT_CLASSES = { AlbertModel, AlbertForPreTraining, AlbertForMaskedLM, AlbertForSequenceClassification };

export function isArchitecture(name: string): name is Architecture {
  return (BERT_ARCHITECTURES as readonly string[]).includes(name) || (ALBERT_ARCHITECTURES as readonly string[]).includes(name);
}

/** A freshly initialised model of `arch` for `config` (HF: AutoModel.from_config). */
export function createModel(config: ModelConfig, arch: Architecture, opts: ModelOptions = {}): AnyModel {
  if (config.model_type === 'bert') {
    const C = BERT_CLASSES[arch as keyof typeof BERT_CLASSES];
    if (!C) throw new Error(`architecture '${arch}' is not a BERT architecture (${BERT_ARCHITECTURES.join(', ')})`);
    return new C(config as BertConfig, opts);
  }
  const C = ALBERT_CLASSES[arch as keyof typeof ALBERT_CLASSES];
  if (!C) throw new Error(`architecture '${arch}' is not an ALBERT architecture (${ALBERT_ARCHITECTURES.join(', ')})`);
  return new C(config as AlbertConfig, opts);
}

/** The HF architecture name of a model instance. */
export function architectureOf(model: AnyModel): Architecture {
  return (model.constructor as unknown as { architecture: Architecture }).architecture;
}

/** The name under which the trunk sits in task models ('bert' / 'albert'): HF's base_model_prefix. */
export function basePrefix(config: ModelConfig): string {
  return config.model_type;
}
