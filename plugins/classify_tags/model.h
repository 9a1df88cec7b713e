/*
 * A trained topic model for the classify stage: TF-IDF features of the title and text (word
 * unigrams and bigrams after Unicode case folding) and a multinomial logistic regression
 * (softmax) over them, trained by stochastic gradient descent with L2 regularisation
 * (L. Bottou, "Large-Scale Machine Learning with Stochastic Gradient Descent", COMPSTAT 2010,
 * including its learning-rate schedule and the weight-scale trick for sparse updates).
 * Term weighting: sublinear tf (1 + log tf), smoothed idf log((1 + N) / (1 + df)) + 1, and L2
 * length normalisation (Salton & Buckley 1988; the variant scikit-learn documents).
 *
 * Labels are whatever strings the training documents carry; nothing about them is built in.
 *
 * Model file (feedmill's own text format, one record a line, UTF-8):
 *   feedmill-topic-model 1
 *   labels K            then K lines, one label each
 *   bias b_1 ... b_K
 *   features N          then N lines: TERM <TAB> IDF <TAB> w_1 ... w_K
 */
#ifndef FM_CLASSIFY_MODEL_H
#define FM_CLASSIFY_MODEL_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

struct fm_model;

struct fm_train_params {
	int epochs;           /* passes over the data (default 20) */
	double l2;            /* regularisation strength lambda (default 1e-5) */
	double eta0;          /* initial learning rate (default 1.0) */
	int min_df;           /* a term must occur in at least this many documents (default 2) */
	size_t max_features;  /* keep the most frequent terms up to this many (default 500000) */
	size_t field_limit;   /* bytes read of each field (0: all) */
	unsigned seed;        /* shuffling; fixed for reproducible models */
};

#define FM_TRAIN_PARAMS_DEFAULT {20, 1e-5, 1.0, 2, 500000, 0, 42}

/* Reasons are written to *err (a static or caller-owned message buffer of errlen bytes). */
struct fm_trainer;
struct fm_trainer *fm_trainer_new(const struct fm_train_params *p);
/* Add a labelled document (title may be NULL). Returns 0 or -ENOMEM. */
int fm_trainer_add(struct fm_trainer *t, const char *title, const char *text, const char *label);
size_t fm_trainer_docs(const struct fm_trainer *t);
/* Train and return the model, or NULL with a reason in err (fewer than 2 labels, OOM...). */
struct fm_model *fm_trainer_finish(struct fm_trainer *t, char *err, size_t errlen);
void fm_trainer_free(struct fm_trainer *t);

/* Save to a new file (written as a temporary file, then renamed). Returns 0 or -errno. */
int fm_model_save(const struct fm_model *m, const char *path);
/* Load; NULL with a reason in err ("FILE:LINE: ...") when the file is missing or malformed. */
struct fm_model *fm_model_load(const char *path, char *err, size_t errlen);
void fm_model_free(struct fm_model *m);
size_t fm_model_labels(const struct fm_model *m);
size_t fm_model_features(const struct fm_model *m);

/* Per-instance scratch for prediction. */
struct fm_model_scratch;
struct fm_model_scratch *fm_model_scratch_new(void);
void fm_model_scratch_free(struct fm_model_scratch *s);

/* Predict the label of (title, text). Returns the label (owned by the model) and sets *score to
 * its probability, or NULL on OOM. */
const char *fm_model_predict(const struct fm_model *m, struct fm_model_scratch *s,
                             const char *title, const char *text, size_t field_limit,
                             double *score);

#endif
