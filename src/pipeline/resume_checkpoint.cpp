#include "ptq/pipeline/resume_checkpoint.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <system_error>

#include "io/content_hash.h"
#include "io/read_file.h"
#include "io/staged_directory.h"
#include "ptq/common/error.h"
#include "ptq/common/logging.h"
#include "ptq/common/report.h"

namespace ptq::quant {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr const char* kManifest = "checkpoint.json";
constexpr const char* kFormat = "ptq-resume-1";
constexpr const char* kMarker = "ptq-work";  // holds kFormat: ptq made this folder
constexpr const char* kLock = "lock";
constexpr const char* kModulesKey = "modules";  // a layer file's metadata: names, extra suffixes
constexpr const char* kInputs = "inputs";       // a state file's activations
constexpr const char* kMethodPrefix = "method.";
// Kept when the rest of the work folder is removed (the header says why).
constexpr const char* kMeasurementPass = "measure";
constexpr const char* kMeasurementCache = "measure.json";

bool kept_on_removal(const std::string& name) {
  return name == kMeasurementPass || name == kMeasurementCache;
}

std::string numbered(const char* stem, int64_t number) {
  char name[64];
  std::snprintf(name, sizeof(name), "%s-%05lld.safetensors", stem, static_cast<long long>(number));
  return name;
}

std::string layer_file(int64_t index) { return numbered("layer", index); }
std::string state_file(int64_t next_layer) { return numbered("state", next_layer); }

json file_entry(const fs::path& path) {
  return {{"bytes", fs::file_size(path)}, {"hash", io::hash_hex(io::hash_file(path.string()))}};
}

json record_json(const LayerRecord& layer) {
  json linears = json::array();
  for (const LinearRecord& r : layer.linears) {
    linears.push_back({{"name", r.name},
                       {"out_features", r.out_features},
                       {"in_features", r.in_features},
                       {"loss", r.loss},
                       {"relative_error", r.relative_error},
                       {"percdamp", r.percdamp},
                       {"damp", r.damp},
                       {"seconds", r.seconds},
                       {"rtn_fallback", r.rtn_fallback}});
  }
  json record = {{"index", layer.index}, {"seconds", layer.seconds}, {"linears", linears}};
  if (!layer.refinement.is_null()) record["refinement"] = layer.refinement;
  return record;
}

LayerRecord layer_record(const json& j) {
  LayerRecord layer;
  layer.index = j.at("index").get<int64_t>();
  layer.seconds = j.at("seconds").get<double>();
  layer.refinement = j.value("refinement", json());
  for (const json& l : j.at("linears")) {
    LinearRecord r;
    r.name = l.at("name").get<std::string>();
    r.out_features = l.at("out_features").get<int64_t>();
    r.in_features = l.at("in_features").get<int64_t>();
    r.loss = l.at("loss").get<double>();
    r.relative_error = l.at("relative_error").get<double>();
    r.percdamp = l.at("percdamp").get<double>();
    r.damp = l.at("damp").get<double>();
    r.seconds = l.at("seconds").get<double>();
    r.rtn_fallback = l.at("rtn_fallback").get<bool>();
    layer.linears.push_back(std::move(r));
  }
  return layer;
}

// Every key whose value differs, e.g. "nsamples: 8 in the checkpoint, 4 now".
std::string identity_differences(const json& saved, const json& current) {
  std::set<std::string> keys;
  for (const auto& item : saved.items()) keys.insert(item.key());
  for (const auto& item : current.items()) keys.insert(item.key());
  std::string differences;
  for (const std::string& key : keys) {
    const json before = saved.contains(key) ? saved.at(key) : json();
    const json now = current.contains(key) ? current.at(key) : json();
    if (before == now) continue;
    if (!differences.empty()) differences += "; ";
    differences += key + ": " + before.dump() + " in the checkpoint, " + now.dump() + " now";
  }
  return differences;
}

// The content of a small file, or "" when it cannot be read.
std::string small_file_text(const fs::path& path) {
  std::error_code error;
  if (!fs::is_regular_file(path, error) || fs::file_size(path, error) > 4096) return "";
  return io::read_file_bytes(path.string());
}

bool all_digits(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), ::isdigit);
}

}  // namespace

ResumeCheckpoint::ResumeCheckpoint(const std::string& out_dir, json identity)
    : _out(io::normalized_dir(out_dir)),
      _dir(_out.string() + ".work"),
      _identity(std::move(identity)) {}

ResumeCheckpoint::ResumeCheckpoint(fs::path out, fs::path dir, json identity)
    : _out(std::move(out)), _dir(std::move(dir)), _identity(std::move(identity)) {}

std::unique_ptr<ResumeCheckpoint> ResumeCheckpoint::measurement_pass(const ResumeCheckpoint& parent,
                                                                     json identity) {
  return std::unique_ptr<ResumeCheckpoint>(
      new ResumeCheckpoint(parent._out, parent._dir / kMeasurementPass, std::move(identity)));
}

fs::path ResumeCheckpoint::measurement_file() const { return _dir / kMeasurementCache; }

ResumeCheckpoint::~ResumeCheckpoint() {
  if (_created_dir && _manifest.is_null()) remove_owned();
  if (_lock_fd >= 0) ::close(_lock_fd);
}

bool ResumeCheckpoint::exists() const { return fs::exists(file(kManifest)); }

bool ResumeCheckpoint::absent_or_owned() const {
  std::error_code error;
  const fs::file_status status = fs::symlink_status(_dir, error);
  if (status.type() == fs::file_type::not_found) return true;
  if (error || !fs::is_directory(status)) return false;  // a file, a symlink, unreadable
  if (small_file_text(file(kMarker)) == kFormat) return true;
  // Checkpoints written before the marker existed carry the format in checkpoint.json.
  if (!fs::is_regular_file(file(kManifest), error)) return false;
  const json manifest = json::parse(io::read_file_bytes(file(kManifest).string()), nullptr,
                                    /*allow_exceptions=*/false);
  return manifest.is_object() && manifest.contains("format") && manifest["format"] == kFormat;
}

void ResumeCheckpoint::check_owned() const {
  PTQ_CHECK_INPUT(absent_or_owned(), _dir.string(), " exists and was not made by ptq (it has no ",
                  kMarker,
                  " marker): ptq keeps its resume checkpoint there and would overwrite it; move "
                  "it away or choose another --out");
}

void ResumeCheckpoint::lock() {
  check_owned();
  std::error_code error;
  if (!fs::exists(_dir)) {
    PTQ_CHECK_INPUT(fs::create_directory(_dir, error), "cannot create ", _dir.string(), ": ",
                    error.message());
    _created_dir = true;
    write_text_file(file(kMarker).string(), kFormat);
  }
  const std::string path = file(kLock).string();
  _lock_fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  PTQ_CHECK_INPUT(_lock_fd >= 0, "cannot open ", path, ": ", std::strerror(errno));
  const std::string holder = small_file_text(path);
  if (::flock(_lock_fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(_lock_fd);
    _lock_fd = -1;
    PTQ_THROW_INPUT("another ptq run (pid ", holder.empty() ? "unknown" : holder, ") is writing ",
                    _out.string(), ": it holds ", path, "; wait for it to finish or stop it");
  }
  const std::string pid = std::to_string(::getpid());
  if (all_digits(holder) && holder != pid) {
    fs::remove_all(io::staging_dir(_out, std::stoll(holder)), error);  // a killed run's
  }
  PTQ_CHECK_INPUT(::ftruncate(_lock_fd, 0) == 0 && ::pwrite(_lock_fd, pid.data(), pid.size(), 0) ==
                                                       static_cast<ssize_t>(pid.size()),
                  "cannot write ", path, ": ", std::strerror(errno));
}

FinishedLayers ResumeCheckpoint::load() {
  const std::string path = file(kManifest).string();
  const json manifest = io::read_json_file(path);
  try {
    PTQ_CHECK_INPUT(manifest.is_object() && manifest.value("format", "") == kFormat, path,
                    ": not a ptq resume checkpoint (format ", kFormat, ")");
    const std::string differences = identity_differences(manifest.at("identity"), _identity);
    PTQ_CHECK_INPUT(differences.empty(), "--resume: ", _dir.string(),
                    " was made with other inputs or settings (", differences,
                    "); rerun with the same ones, or delete it to start over");
    FinishedLayers done;
    const json& files = manifest.at("files");
    for (const json& layer : manifest.at("layers")) {
      done.layers.push_back(layer_record(layer));
      const int64_t index = static_cast<int64_t>(done.layers.size()) - 1;
      PTQ_CHECK_INPUT(done.layers.back().index == index && files.contains(layer_file(index)), path,
                      ": layer ", index, " is not recorded in order");
    }
    const std::string state = manifest.at("state").get<std::string>();
    PTQ_CHECK_INPUT(
        state == state_file(static_cast<int64_t>(done.layers.size())) && files.contains(state),
        path, ": its state file '", state, "' does not follow its last layer");
    _manifest = manifest;
    verify_files();
    const io::SafetensorsReader reader(file(state).string());
    for (const std::string& name : reader.names()) {
      if (name == kInputs) {
        done.next_inputs = reader.tensor(name);
      } else {
        PTQ_CHECK_INPUT(name.rfind(kMethodPrefix, 0) == 0, reader.path(), ": unexpected tensor '",
                        name, "'");
        done.method_state[name.substr(std::string(kMethodPrefix).size())] = reader.tensor(name);
      }
    }
    return done;
  } catch (const json::exception& e) {
    PTQ_THROW_INPUT(path, " is malformed (", e.what(), "); delete ", _dir.string(),
                    " to start over");
  }
}

void ResumeCheckpoint::verify_files() const {
  for (const auto& [name, entry] : _manifest.at("files").items()) {
    // Names come from the file: a crafted one must not reach outside the work folder.
    PTQ_CHECK_INPUT(fs::path(name).filename().string() == name && name != "..",
                    file(kManifest).string(), ": bad file name '", name, "'");
    const fs::path path = file(name);
    std::error_code error;
    const uintmax_t bytes = fs::file_size(path, error);
    PTQ_CHECK_INPUT(!error, path.string(), " is missing (", error.message(), "); delete ",
                    _dir.string(), " to start over");
    const auto expected = entry.at("bytes").get<uintmax_t>();
    PTQ_CHECK_INPUT(bytes == expected, path.string(), " is truncated or altered: ", bytes,
                    " bytes where the checkpoint recorded ", expected, "; delete ", _dir.string(),
                    " to start over");
    PTQ_CHECK_INPUT(
        io::hash_hex(io::hash_file(path.string())) == entry.at("hash").get<std::string>(),
        path.string(), " is corrupted: its content hash differs from the one the ",
        "checkpoint recorded; delete ", _dir.string(), " to start over");
  }
}

void ResumeCheckpoint::replay_layer(int64_t index, const QuantizedLinearSink& sink) const {
  const io::SafetensorsReader reader(file(layer_file(index)).string());
  const auto modules = reader.metadata().find(kModulesKey);
  PTQ_CHECK_INPUT(modules != reader.metadata().end(), reader.path(), ": no '", kModulesKey,
                  "' metadata");
  const json list = json::parse(modules->second, nullptr, /*allow_exceptions=*/false);
  PTQ_CHECK_INPUT(list.is_array(), reader.path(), ": '", kModulesKey, "' is not a JSON list");
  try {
    for (const json& module : list) {
      const std::string name = module.at("name").get<std::string>();
      QuantizedLinear linear;
      linear.quantized.codes = reader.tensor(name + ".codes");
      linear.quantized.scales = reader.tensor(name + ".scales");
      linear.quantized.zeros = reader.tensor(name + ".zeros");
      linear.quantized.g_idx = reader.tensor(name + ".g_idx");
      linear.quantized.refit_groups = module.value("refit_groups", int64_t{0});
      for (const json& suffix : module.at("extra")) {
        const std::string s = suffix.get<std::string>();
        linear.extra_tensors[s] = reader.tensor(name + ".extra." + s);
      }
      sink(name, linear);
    }
  } catch (const json::exception& e) {
    PTQ_THROW_INPUT(reader.path(), ": malformed '", kModulesKey, "' metadata (", e.what(), ")");
  }
}

void ResumeCheckpoint::add_linear(const std::string& module, const QuantizedLinear& linear) {
  const QuantizedWeight& q = linear.quantized;
  _layer.add(module + ".codes", q.codes);
  _layer.add(module + ".scales", q.scales);
  _layer.add(module + ".zeros", q.zeros);
  _layer.add(module + ".g_idx", q.g_idx);
  json extra = json::array();
  for (const auto& [suffix, tensor] : linear.extra_tensors) {
    _layer.add(module + ".extra." + suffix, tensor);
    extra.push_back(suffix);
  }
  _modules.push_back({{"name", module}, {"extra", extra}, {"refit_groups", q.refit_groups}});
}

void ResumeCheckpoint::start_fresh() {
  check_owned();
  std::error_code error;
  fs::create_directories(_dir, error);
  PTQ_CHECK_INPUT(!error, "cannot create ", _dir.string(), ": ", error.message());
  // A run killed before its first checkpoint leaves files; the marker and lock stay.
  for (const auto& entry : fs::directory_iterator(_dir, error)) {
    const std::string name = entry.path().filename().string();
    if (name != kMarker && name != kLock && !kept_on_removal(name)) {
      fs::remove_all(entry.path(), error);
    }
  }
  if (small_file_text(file(kMarker)) != kFormat) write_text_file(file(kMarker).string(), kFormat);
  _manifest = {{"format", kFormat},
               {"identity", _identity},
               {"layers", json::array()},
               {"files", json::object()},
               {"state", ""}};
}

void ResumeCheckpoint::finish_layer(const LayerRecord& layer,
                                    const at::Tensor& next_inputs,
                                    const std::map<std::string, at::Tensor>& method_state) {
  if (_manifest.is_null()) start_fresh();
  PTQ_CHECK_INPUT(layer.index == static_cast<int64_t>(_manifest.at("layers").size()), _dir.string(),
                  ": layer ", layer.index, " finished out of order");
  try {
    commit_layer(layer, next_inputs, method_state);
  } catch (...) {
    // A failed write (e.g. a full disk) before any commit leaves nothing worth keeping.
    if (_manifest.at("layers").empty()) {
      remove();
      _manifest = json();
    }
    throw;
  }
  _layer = io::SafetensorsWriter();
  _modules = json::array();
}

void ResumeCheckpoint::commit_layer(const LayerRecord& layer,
                                    const at::Tensor& next_inputs,
                                    const std::map<std::string, at::Tensor>& method_state) {
  const std::string layer_name = layer_file(layer.index);
  _layer.set_metadata(kModulesKey, _modules.dump());
  _layer.write(file(layer_name).string());
  io::SafetensorsWriter state;
  if (next_inputs.defined()) state.add(kInputs, next_inputs);
  for (const auto& [name, tensor] : method_state) state.add(kMethodPrefix + name, tensor);
  const std::string state_name = state_file(layer.index + 1);
  state.write(file(state_name).string());

  json manifest = _manifest;
  const std::string previous = manifest.at("state").get<std::string>();
  if (!previous.empty()) manifest["files"].erase(previous);
  manifest["layers"].push_back(record_json(layer));
  manifest["files"][layer_name] = file_entry(file(layer_name));
  manifest["files"][state_name] = file_entry(file(state_name));
  manifest["state"] = state_name;
  write_json_file(file(kManifest).string(), manifest);  // the commit point (invariant 1)
  _manifest = std::move(manifest);
  if (!previous.empty()) {
    std::error_code error;
    fs::remove(file(previous), error);  // no longer listed: a leftover would be harmless
  }
}

void ResumeCheckpoint::remove() {
  if (!absent_or_owned()) {
    spdlog::warn("{} was not made by ptq; leaving it", _dir.string());
    return;
  }
  remove_owned();
}

void ResumeCheckpoint::remove_owned() {
  std::error_code error;
  if (!fs::exists(_dir, error)) return;
  bool kept = false;
  for (const auto& entry : fs::directory_iterator(_dir, error)) {
    const std::string name = entry.path().filename().string();
    if (kept_on_removal(name)) {
      kept = true;
    } else if (name != kMarker && name != kLock) {
      fs::remove_all(entry.path(), error);
    }
  }
  // With a measurement kept, the marker stays (invariant 3) and so does the lock file.
  if (!kept) fs::remove_all(_dir, error);
  if (error) spdlog::warn("cannot remove {}: {}", _dir.string(), error.message());
}

std::string model_fingerprint(const std::string& model_dir) {
  std::vector<fs::path> files;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(model_dir, error)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  PTQ_CHECK_INPUT(!error, "cannot list ", model_dir, ": ", error.message());
  std::sort(files.begin(), files.end());
  uint64_t hash = io::kHashSeed;
  for (const fs::path& path : files) {
    const std::string name = path.filename().string();
    const int64_t stamp[2] = {static_cast<int64_t>(fs::file_size(path)),
                              fs::last_write_time(path).time_since_epoch().count()};
    hash = io::hash_bytes(name.data(), name.size() + 1, hash);  // with the '\0' separator
    hash = io::hash_bytes(stamp, sizeof(stamp), hash);
  }
  return io::hash_hex(hash);
}

std::string tensor_fingerprint(const at::Tensor& tensor) {
  const at::Tensor bytes = tensor.contiguous();
  return io::hash_hex(io::hash_bytes(bytes.data_ptr(), bytes.nbytes()));
}

}  // namespace ptq::quant
