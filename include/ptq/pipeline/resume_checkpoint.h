#pragma once
// The work folder of a resumable quantization, "<out_dir>.work" beside the output: after each
// finished layer it holds what a run interrupted later needs to continue from the next layer
// and still write the bytes an uninterrupted run writes.
//
//   ResumeCheckpoint checkpoint(out_dir, identity);   // identity: settings + input fingerprints
//   checkpoint.lock();                                // one run per output (exit 2 otherwise)
//   if (checkpoint.exists()) {
//     const FinishedLayers done = checkpoint.load();  // verifies identity and every file
//     for (size_t i = 0; i < done.layers.size(); ++i) checkpoint.replay_layer(i, sink);
//   }
//   ... sink also calls checkpoint.add_linear(module, linear) ...
//   ... after each layer: checkpoint.finish_layer(record, next_inputs, method.layer_state())
//   checkpoint.remove();                              // once the output is committed
//
// Layout: layer-<i>.safetensors (the quantized linears of layer i: codes, scales, zeros, g_idx
// and extra tensors, in the order the sink received them), state-<k>.safetensors (the
// calibration activations entering layer k and the method's layer state) and
// checkpoint.json (the identity, the layer records, and each file's size and content hash);
// the marker file ptq-work (ptq's signature) and the lock file lock (the pid of the run that
// holds it, locked with flock while the run lasts).
//
// A --target-bits run (linear_measurement.h) first checkpoints its measurement pass the same
// way in the subfolder measure/ (measurement_pass()), then caches the whole measurement in
// measure.json (measurement_file()); both survive the removal of the rest, so an interrupted
// measurement resumes and a later target to the same output reuses it.
//
// Invariants:
// 1. checkpoint.json is the commit point: it is replaced (temp + rename) only after the files
//    it lists are complete (temp + fsync + rename), so a run killed at any moment leaves the
//    previous checkpoint valid.
// 2. load() accepts only a checkpoint whose identity equals this run's and whose files have
//    the recorded sizes and hashes; anything else is an InputError naming what differs.
// 3. Only a folder marked as ptq's (ptq-work, or a checkpoint.json in ptq's format) is ever
//    written into or removed: anything else at "<out_dir>.work" is an InputError, untouched.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ptq/io/safetensors.h"
#include "ptq/methods/method.h"
#include "ptq/pipeline/pipeline.h"

namespace ptq::quant {

// What the layers finished before the interruption left.
struct FinishedLayers {
  std::vector<LayerRecord> layers;  // layers 0..k-1
  at::Tensor next_inputs;           // activations entering layer k; undefined without calibration
  std::map<std::string, at::Tensor> method_state;  // QuantMethod::layer_state() after layer k-1
};

class ResumeCheckpoint {
 public:
  // Nothing is written before lock() or the first finish_layer().
  ResumeCheckpoint(const std::string& out_dir, nlohmann::json identity);
  // Removes the work folder if lock() created it and no layer was committed since, so a run
  // that fails before its first layer leaves the file system as it found it.
  ~ResumeCheckpoint();
  ResumeCheckpoint(const ResumeCheckpoint&) = delete;
  ResumeCheckpoint& operator=(const ResumeCheckpoint&) = delete;

  // The checkpoint of the --target-bits measurement pass, under this one's lock.
  static std::unique_ptr<ResumeCheckpoint> measurement_pass(const ResumeCheckpoint& parent,
                                                            nlohmann::json identity);
  // Where the finished measurement is cached.
  std::filesystem::path measurement_file() const;

  const std::filesystem::path& dir() const { return _dir; }
  // For a caller that claims the folder (lock()) before its inputs are known.
  void set_identity(nlohmann::json identity) { _identity = std::move(identity); }
  // Whether the work folder holds a checkpoint (checkpoint.json).
  bool exists() const;
  // Throws InputError unless the work folder is absent or marked as ptq's (invariant 3).
  void check_owned() const;
  // Claims the output for this process: creates the work folder (marked as ptq's) if absent
  // and holds an exclusive flock on its lock file until destruction. Throws InputError naming
  // the other run's pid when one holds it. A staging directory "<out_dir>.tmp-<pid>" left by
  // the previous holder (killed) is removed: holding the lock, no live run can own it.
  void lock();
  // Throws InputError if the checkpoint was made with another identity (naming each differing
  // key), or a file it lists is missing, truncated or altered.
  FinishedLayers load();
  // Calls `sink` for each quantized linear of finished layer `index`, in the original order,
  // with tensors read from the work folder (the dequantized weight is not stored).
  void replay_layer(int64_t index, const QuantizedLinearSink& sink) const;

  // Buffers a linear of the layer being quantized.
  void add_linear(const std::string& module, const QuantizedLinear& linear);
  // Writes the buffered linears of `layer`, the activations entering the next layer and the
  // method's state, then commits them in checkpoint.json. If that fails before any layer was
  // committed, the work folder is removed.
  void finish_layer(const LayerRecord& layer,
                    const at::Tensor& next_inputs,
                    const std::map<std::string, at::Tensor>& method_state);
  // Deletes the work folder (after the output was committed), but for the measurement's cache
  // and checkpoint if there are any.
  void remove();

 private:
  ResumeCheckpoint(std::filesystem::path out, std::filesystem::path dir, nlohmann::json identity);
  // remove() without the ownership check.
  void remove_owned();
  std::filesystem::path file(const std::string& name) const { return _dir / name; }
  void start_fresh();
  void commit_layer(const LayerRecord& layer,
                    const at::Tensor& next_inputs,
                    const std::map<std::string, at::Tensor>& method_state);
  void verify_files() const;
  bool absent_or_owned() const;

  std::filesystem::path _out;
  std::filesystem::path _dir;
  nlohmann::json _identity;
  nlohmann::json _manifest;      // checkpoint.json as last committed; null before the first
  io::SafetensorsWriter _layer;  // the linears of the layer being quantized
  nlohmann::json _modules = nlohmann::json::array();  // their names and extra suffixes
  int _lock_fd = -1;                                  // the lock file while lock() holds it
  bool _created_dir = false;                          // lock() created the work folder
};

// Parts of a checkpoint's identity. The model directory: the names, sizes and modification
// times of its files (hashing tens of GB of weights would cost more than a layer takes); a
// tensor (the calibration ids): its bytes. 16 hex digits each.
std::string model_fingerprint(const std::string& model_dir);
std::string tensor_fingerprint(const at::Tensor& tensor);

}  // namespace ptq::quant
