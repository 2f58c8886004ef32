#include "readers/hdf5.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "h5_builder.h"
#include "test_util.h"

namespace k2t {
namespace {

using testing::H5Builder;
using testing::TempDir;

h5::Group Root(const h5::File& file) {
  auto root = file.Root();
  EXPECT_TRUE(root.ok());
  return std::move(*root);
}

TEST(Hdf5Test, StringAttributesInEveryEncoding) {
  TempDir dir;
  const std::string path = dir.File("strings.h5");
  {
    H5Builder b(path);
    b.FixedStrings("/", "fixed_scalar", {"2.15.0"}, /*scalar=*/true);
    b.FixedStrings("/", "fixed_list", {"dense", "dropout_1", "x"});
    b.VarStrings("/", "var_ascii", {"a", "bc"});
    b.VarStrings("/", "var_utf8", {"caf\xc3\xa9 \xe4\xb8\xad"}, /*utf8=*/true, /*scalar=*/true);
    b.EmptyFloatArray("/", "empty");
    b.IntAttribute("/", "number", 3);
  }
  auto file = h5::File::Open(path);
  ASSERT_TRUE(file.ok()) << file.error().message();
  const h5::Group root = Root(*file);

  EXPECT_EQ(*root.ReadStringAttribute("fixed_scalar"), "2.15.0");
  EXPECT_EQ(*root.ReadStringListAttribute("fixed_list"),
            (std::vector<std::string>{"dense", "dropout_1", "x"}));
  EXPECT_EQ(*root.ReadStringListAttribute("var_ascii"), (std::vector<std::string>{"a", "bc"}));
  EXPECT_EQ(*root.ReadStringAttribute("var_utf8"), "caf\xc3\xa9 \xe4\xb8\xad");
  // A scalar string is a list of one.
  EXPECT_EQ(*root.ReadStringListAttribute("fixed_scalar"), (std::vector<std::string>{"2.15.0"}));
  EXPECT_TRUE(root.ReadStringListAttribute("empty")->empty());
}

TEST(Hdf5Test, StringAttributeErrors) {
  TempDir dir;
  const std::string path = dir.File("strings.h5");
  {
    H5Builder b(path);
    b.VarStrings("/", "two", {"a", "b"});
    b.IntAttribute("/", "number", 3);
    b.Group("g");
  }
  auto file = h5::File::Open(path);
  ASSERT_TRUE(file.ok());
  const h5::Group root = Root(*file);

  auto two = root.ReadStringAttribute("two");
  ASSERT_FALSE(two.ok());
  EXPECT_EQ(two.error().message(), "attribute 'two' holds 2 strings where one was expected");
  auto number = root.ReadStringAttribute("number");
  ASSERT_FALSE(number.ok());
  EXPECT_EQ(number.error().message(), "attribute 'number' holds numbers where text was expected");
  auto missing = root.ReadStringAttribute("missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message(), "cannot open attribute 'missing'");
  auto group = root.OpenGroup("g");
  ASSERT_TRUE(group.ok());
  auto list = group->ReadStringListAttribute("layer_names");
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.error().message(), "attribute 'layer_names' is missing from group '/g'");
}

TEST(Hdf5Test, ChunkedListAttributes) {
  TempDir dir;
  const std::string path = dir.File("chunked.h5");
  {
    H5Builder b(path);
    // Keras splits long lists into fixed-width chunks name0, name1, ...
    b.FixedStrings("/", "layer_names0", {"dense", "dense_1"});
    b.FixedStrings("/", "layer_names1", {"dense_2"});
    b.Group("g");
    b.VarStrings("/g", "weight_names", {"whole"});
    b.FixedStrings("/g", "weight_names0", {"ignored"});
  }
  auto file = h5::File::Open(path);
  ASSERT_TRUE(file.ok());
  const h5::Group root = Root(*file);
  EXPECT_FALSE(root.HasAttribute("layer_names"));
  EXPECT_TRUE(root.HasAttribute("layer_names0"));
  EXPECT_EQ(*root.ReadStringListAttribute("layer_names"),
            (std::vector<std::string>{"dense", "dense_1", "dense_2"}));
  // The unsplit attribute wins when both exist.
  EXPECT_EQ(*root.OpenGroup("g")->ReadStringListAttribute("weight_names"),
            (std::vector<std::string>{"whole"}));
}

TEST(Hdf5Test, DatasetNamesWithSlashAndColon) {
  TempDir dir;
  const std::string path = dir.File("names.h5");
  {
    H5Builder b(path);
    b.Floats("model_weights/dense/dense/kernel:0", {2, 3}, {1, 2, 3, 4, 5, 6});
    b.Floats("model_weights/dense/dense/bias:0", {3}, {7, 8, 9});
  }
  auto file = h5::File::Open(path);
  ASSERT_TRUE(file.ok());
  const h5::Group root = Root(*file);
  auto layer = root.OpenGroup("model_weights/dense");
  ASSERT_TRUE(layer.ok());
  EXPECT_EQ(layer->path(), "/model_weights/dense");
  EXPECT_TRUE(layer->HasDataset("dense/kernel:0"));
  EXPECT_FALSE(layer->HasGroup("dense/kernel:0"));
  EXPECT_TRUE(layer->HasGroup("dense"));
  EXPECT_FALSE(layer->Has("dense/missing:0"));
  EXPECT_FALSE(layer->Has(""));

  auto kernel = layer->OpenDataset("dense/kernel:0");
  ASSERT_TRUE(kernel.ok());
  EXPECT_EQ(kernel->path(), "/model_weights/dense/dense/kernel:0");
  EXPECT_EQ(*kernel->ReadShape(), (Shape{2, 3}));
  EXPECT_EQ(*kernel->ReadDType(), DType::kF32);
  auto tensor = kernel->Read({.file_bytes = 1 << 20});
  ASSERT_TRUE(tensor.ok());
  EXPECT_EQ(tensor->as<float>()[5], 6.0f);

  EXPECT_EQ(*layer->ChildNames(), (std::vector<std::string>{"dense"}));
  EXPECT_EQ(*layer->OpenGroup("dense")->ChildNames(),
            (std::vector<std::string>{"bias:0", "kernel:0"}));

  auto missing = layer->OpenDataset("dense/gamma:0");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message(), "dataset '/model_weights/dense/dense/gamma:0' not found");
  auto not_a_group = layer->OpenGroup("dense/bias:0");
  ASSERT_FALSE(not_a_group.ok());
  EXPECT_EQ(not_a_group.error().message(), "'/model_weights/dense/dense/bias:0' is not a group");
}

TEST(Hdf5Test, SoftLinksAreRefused) {
  TempDir dir;
  const std::string path = dir.File("links.h5");
  {
    H5Builder b(path);
    b.Floats("real/kernel", {2}, {1, 2});
    b.SoftLink("/real/kernel", "/alias");
    b.SoftLink("/real", "/linked_group");
  }
  auto file = h5::File::Open(path);
  ASSERT_TRUE(file.ok());
  const h5::Group root = Root(*file);
  EXPECT_TRUE(root.HasDataset("real/kernel"));
  EXPECT_FALSE(root.Has("alias"));
  EXPECT_FALSE(root.HasDataset("alias"));
  EXPECT_TRUE(root.HasLink("alias"));
  EXPECT_FALSE(root.HasDataset("linked_group/kernel"));

  auto alias = root.OpenDataset("alias");
  ASSERT_FALSE(alias.ok());
  EXPECT_EQ(alias.error().message(),
            "dataset '/alias' is reached through a soft link '/alias', which keras2torch does not "
            "follow");
  auto through = root.OpenDataset("linked_group/kernel");
  ASSERT_FALSE(through.ok());
  EXPECT_EQ(through.error().message(),
            "dataset '/linked_group/kernel' is reached through a soft link '/linked_group', "
            "which keras2torch does not follow");
  auto group = root.OpenGroup("linked_group");
  ASSERT_FALSE(group.ok());
  EXPECT_EQ(group.error().message(),
            "group '/linked_group' is reached through a soft link '/linked_group', which "
            "keras2torch does not follow");
}

TEST(Hdf5Test, ExternalLinksAreRefused) {
  TempDir dir;
  const std::string other = dir.File("other.h5");
  {
    H5Builder b(other);
    b.Floats("secret", {1}, {42});
  }
  const std::string path = dir.File("external.h5");
  {
    H5Builder b(path);
    b.ExternalLink(other, "/secret", "/kernel");
  }
  auto file = h5::File::Open(path);
  ASSERT_TRUE(file.ok());
  const h5::Group root = Root(*file);
  EXPECT_FALSE(root.HasDataset("kernel"));
  auto kernel = root.OpenDataset("kernel");
  ASSERT_FALSE(kernel.ok());
  EXPECT_EQ(kernel.error().message(),
            "dataset '/kernel' is reached through an external link '/kernel', which keras2torch "
            "does not follow");
}

TEST(Hdf5Test, ExternalStorageIsRefused) {
  TempDir dir;
  const std::string raw = dir.File("raw.bin");
  testing::WriteBytes(raw, std::string(16, '\x01'));
  const std::string path = dir.File("external_storage.h5");
  {
    H5Builder b(path);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    ASSERT_GE(H5Pset_external(dcpl, raw.c_str(), 0, 16), 0);
    b.Dataset("kernel", {4}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, nullptr, dcpl);
    H5Pclose(dcpl);
  }
  auto file = h5::File::Open(path);
  ASSERT_TRUE(file.ok());
  auto kernel = Root(*file).OpenDataset("kernel");
  ASSERT_FALSE(kernel.ok());
  EXPECT_EQ(kernel.error().message(),
            "dataset '/kernel' keeps its data in an external file, which keras2torch does not "
            "read");
}

TEST(Hdf5Test, ElementTypes) {
  TempDir dir;
  const std::string path = dir.File("types.h5");
  {
    H5Builder b(path);
    // float16 the way h5py defines it.
    hid_t f16 = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(f16, 15, 10, 5, 0, 10);
    H5Tset_precision(f16, 16);
    H5Tset_size(f16, 2);
    H5Tset_ebias(f16, 15);
    const std::uint16_t halves[] = {0x3C00, 0x0001};
    b.Dataset("f16", {2}, f16, f16, halves);
    H5Tclose(f16);

    const double doubles[] = {0.5, -1.5};
    b.Dataset("f64", {2}, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, doubles);
    const std::int64_t longs[] = {-3, 1LL << 40};
    b.Dataset("i64", {2}, H5T_STD_I64LE, H5T_NATIVE_INT64, longs);
    const std::int32_t big_endian[] = {7, -8};
    b.Dataset("i32be", {2}, H5T_STD_I32BE, H5T_NATIVE_INT32, big_endian);
    const std::uint8_t bytes[] = {0, 255};
    b.Dataset("u8", {2}, H5T_STD_U8LE, H5T_NATIVE_UINT8, bytes);

    // numpy bool as h5py writes it: an 8-bit enum FALSE=0, TRUE=1.
    hid_t boolean = H5Tenum_create(H5T_NATIVE_INT8);
    std::int8_t no = 0;
    std::int8_t yes = 1;
    H5Tenum_insert(boolean, "FALSE", &no);
    H5Tenum_insert(boolean, "TRUE", &yes);
    const std::int8_t flags[] = {1, 0, 1};
    b.Dataset("bool", {3}, boolean, boolean, flags);
    H5Tclose(boolean);

    // bfloat16 as Keras 3 stores it: 2-byte opaque data marked dtype="bfloat16".
    hid_t opaque = H5Tcreate(H5T_OPAQUE, 2);
    H5Tset_tag(opaque, "bfloat16");
    const std::uint16_t brain[] = {0x3F80, 0xC040};
    b.Dataset("bf16", {2}, opaque, opaque, brain);
    b.VarStrings("bf16", "dtype", {"bfloat16"}, true, true);
    b.Dataset("opaque", {2}, opaque, opaque, brain);
    H5Tclose(opaque);

    const float scalar = 3.5f;
    b.Dataset("scalar", {}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, &scalar);
    b.Dataset("empty", {0, 4}, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, nullptr);
  }
  auto file = h5::File::Open(path);
  ASSERT_TRUE(file.ok());
  const h5::Group root = Root(*file);
  auto read = [&](const std::string& name) {
    auto dataset = root.OpenDataset(name);
    EXPECT_TRUE(dataset.ok()) << name;
    auto tensor = dataset->Read({.file_bytes = 1 << 20});
    EXPECT_TRUE(tensor.ok()) << name << ": " << (tensor.ok() ? "" : tensor.error().message());
    return std::move(*tensor);
  };

  const Tensor f16 = read("f16");
  EXPECT_EQ(f16.dtype(), DType::kF16);
  EXPECT_EQ(f16.ToFloat32().as<float>()[0], 1.0f);
  EXPECT_EQ(f16.ToFloat32().as<float>()[1], std::ldexp(1.0f, -24));
  EXPECT_EQ(read("f64").as<double>()[1], -1.5);
  EXPECT_EQ(read("i64").as<std::int64_t>()[1], 1LL << 40);
  const Tensor i32 = read("i32be");
  EXPECT_EQ(i32.dtype(), DType::kI32);
  EXPECT_EQ(i32.as<std::int32_t>()[1], -8);  // converted to native order
  EXPECT_EQ(read("u8").as<std::uint8_t>()[1], 255);
  const Tensor flags = read("bool");
  EXPECT_EQ(flags.dtype(), DType::kBool);
  EXPECT_EQ(flags.as<std::uint8_t>()[0], 1);
  EXPECT_EQ(flags.as<std::uint8_t>()[1], 0);
  const Tensor brain = read("bf16");
  EXPECT_EQ(brain.dtype(), DType::kBF16);
  EXPECT_EQ(brain.ToFloat32().as<float>()[1], -3.0f);
  const Tensor scalar = read("scalar");
  EXPECT_TRUE(scalar.shape().empty());
  EXPECT_EQ(scalar.as<float>()[0], 3.5f);
  EXPECT_EQ(read("empty").shape(), (Shape{0, 4}));

  auto opaque = root.OpenDataset("opaque");
  ASSERT_TRUE(opaque.ok());
  auto dtype = opaque->ReadDType();
  ASSERT_FALSE(dtype.ok());
  EXPECT_EQ(dtype.error().message(),
            "dataset '/opaque': unsupported element type (HDF5 opaque, 2 bytes)");
}

TEST(Hdf5Test, ReadRefusesSizesBeyondTheLimit) {
  TempDir dir;
  const std::string path = dir.File("big.h5");
  {
    H5Builder b(path);
    b.Floats("w", {100}, std::vector<float>(100, 0.0f));
  }
  auto file = h5::File::Open(path);
  ASSERT_TRUE(file.ok());
  auto dataset = Root(*file).OpenDataset("w");
  ASSERT_TRUE(dataset.ok());
  auto tensor = dataset->Read({.file_bytes = 399});
  ASSERT_FALSE(tensor.ok());
  EXPECT_EQ(tensor.error().message(),
            "dataset '/w' declares 400 bytes, more than the file can hold (399 bytes) "
            "(raise it with --max-dataset-ratio)");
  EXPECT_TRUE(dataset->Read({.file_bytes = 400}).ok());

  // A ratio above 1 allows for compressed data.
  auto compressed = dataset->Read({.file_bytes = 199, .ratio = 2});
  ASSERT_FALSE(compressed.ok());
  EXPECT_EQ(compressed.error().message(),
            "dataset '/w' declares 400 bytes, more than 2 times the size of its file (199 bytes) "
            "(raise it with --max-dataset-ratio)");
  EXPECT_TRUE(dataset->Read({.file_bytes = 200, .ratio = 2}).ok());

  // The element cap applies before the size of the file is even considered.
  auto many = dataset->Read({.file_bytes = 1 << 20, .ratio = 1, .max_elements = 99});
  ASSERT_FALSE(many.ok());
  EXPECT_EQ(many.error().message(),
            "dataset '/w' has 100 elements, more than the limit of 99 "
            "(raise it with --max-tensor-elements)");
  EXPECT_TRUE(dataset->Read({.file_bytes = 1 << 20, .ratio = 1, .max_elements = 100}).ok());
}

TEST(Hdf5Test, ChildNamesAreSortedAsStrings) {
  TempDir dir;
  const std::string path = dir.File("children.h5");
  {
    H5Builder b(path);
    for (const char* name : {"2", "10", "1", "b", "a"}) b.Floats(name, {1}, {0});
  }
  auto file = h5::File::Open(path);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(*Root(*file).ChildNames(), (std::vector<std::string>{"1", "10", "2", "a", "b"}));
}

TEST(Hdf5Test, OpeningWhatIsNotHdf5) {
  TempDir dir;
  const std::string text = dir.File("text.h5");
  testing::WriteBytes(text, "hello, this is not HDF5 at all");
  auto file = h5::File::Open(text);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.error().message(), "not an HDF5 file");

  auto missing = h5::File::Open(dir.File("missing.h5"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message(), "not an HDF5 file");
}

TEST(Hdf5Test, TruncatedFiles) {
  TempDir dir;
  const std::string path = dir.File("whole.h5");
  {
    H5Builder b(path);
    b.Floats("w", {256}, std::vector<float>(256, 1.0f));
  }
  const std::string bytes = testing::ReadBytes(path);
  ASSERT_GT(bytes.size(), 1024u);

  const std::string signature_only = dir.File("signature.h5");
  testing::WriteBytes(signature_only, bytes.substr(0, 8));
  auto short_file = h5::File::Open(signature_only);
  ASSERT_FALSE(short_file.ok());
  EXPECT_EQ(short_file.error().message(),
            "the HDF5 file is truncated or damaged: its superblock cannot be read");

  const std::string cut = dir.File("cut.h5");
  testing::WriteBytes(cut, bytes.substr(0, 1000));
  auto cut_file = h5::File::Open(cut);
  ASSERT_FALSE(cut_file.ok());
  EXPECT_EQ(cut_file.error().message(),
            fmt::format("the HDF5 file is truncated: it has 1000 bytes, its header records {}",
                        bytes.size()));
}

TEST(Hdf5Test, OpenImageFromMemory) {
  TempDir dir;
  const std::string path = dir.File("image.h5");
  {
    H5Builder b(path);
    b.Floats("layers/dense/vars/0", {2}, {1.5f, 2.5f});
  }
  const std::string bytes = testing::ReadBytes(path);
  std::vector<char> image(bytes.begin(), bytes.end());
  auto file = h5::File::OpenImage(image.data(), image.size());
  ASSERT_TRUE(file.ok()) << file.error().message();
  EXPECT_EQ(file->size(), image.size());
  auto tensor = Root(*file).OpenDataset("layers/dense/vars/0")->Read({.file_bytes = file->size()});
  ASSERT_TRUE(tensor.ok());
  EXPECT_EQ(tensor->as<float>()[1], 2.5f);

  const std::string junk = "PK\x03\x04 not hdf5";
  auto bad = h5::File::OpenImage(junk.data(), junk.size());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "not an HDF5 file");
}

}  // namespace
}  // namespace k2t
