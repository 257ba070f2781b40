using SegCam.Volumes.Geometry;

namespace SegCam.Volumes.Phantoms;

/// <summary>
/// A synthetic abdominal CT (Hounsfield units) with two kidneys and, usually, a renal tumour, plus its ground-truth
/// label map (0 background, 1 kidney, 2 tumour, as in KiTS). Everything is drawn from one seed, so a phantom is
/// reproducible from (options, seed). Tissue values follow contrast-enhanced portal-venous CT: air −1000, fat −100,
/// muscle/soft tissue 40–50, enhanced kidney cortex ≈ 160, medulla ≈ 110, tumour ≈ 70 (hypo-enhancing), bone 500–700.
/// </summary>
public static class AbdominalPhantom
{
    /// <summary>Label value of kidney voxels.</summary>
    public const byte Kidney = 1;

    /// <summary>Label value of tumour voxels.</summary>
    public const byte Tumour = 2;

    /// <summary>Class names by label value.</summary>
    public static IReadOnlyList<string> ClassNames { get; } = ["background", "kidney", "tumour"];

    /// <summary>Generates one phantom: CT (Int16, HU) and labels (UInt8) on the same LPS grid.</summary>
    public static (Volume Ct, Volume Labels) Generate(PhantomOptions options, int seed, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var random = new Random(seed);
        var size = options.Size;
        var spacing = options.Spacing;
        var extent = new Vector3(size.I * spacing.X, size.J * spacing.Y, size.K * spacing.Z);

        // Patient-centred geometry (the volume centre is the LPS origin): axial slices, i → patient left (x+),
        // j → posterior (y+), k → superior (z+); the origin is the centre of voxel (0, 0, 0).
        var origin = new Vector3((spacing.X - extent.X) / 2, (spacing.Y - extent.Y) / 2, (spacing.Z - extent.Z) / 2);
        var geometry = new VolumeGeometry(size, spacing, origin, Direction3.Identity);
        var ct = new Volume(geometry, VoxelType.Int16);
        var labels = new Volume(geometry, VoxelType.UInt8);

        var scene = Scene.Draw(random, extent, options.TumourProbability);
        var noise = new Random(unchecked((seed * 7919) + 17));
        var row = new double[size.I];
        for (var k = 0; k < size.K; k++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var hu = ct.Slice<short>(k);
            var lab = labels.Slice<byte>(k);
            var z = ((k + 0.5) * spacing.Z) - (extent.Z / 2);
            for (var j = 0; j < size.J; j++)
            {
                var y = ((j + 0.5) * spacing.Y) - (extent.Y / 2);
                for (var i = 0; i < size.I; i++)
                {
                    var x = ((i + 0.5) * spacing.X) - (extent.X / 2);
                    var (value, label) = scene.Sample(new Vector3(x, y, z));
                    row[i] = value;
                    lab[(j * size.I) + i] = label;
                }

                for (var i = 0; i < size.I; i++)
                {
                    var noisy = row[i] > -900 ? row[i] + (Gaussian(noise) * options.NoiseHu) : row[i] + (Gaussian(noise) * 5);
                    hu[(j * size.I) + i] = (short)Math.Clamp(Math.Round(noisy), -1024, 3071);
                }
            }
        }

        return (ct, labels);
    }

    private static double Gaussian(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());

    /// <summary>The drawn anatomy: ellipsoids in millimetres around the volume centre.</summary>
    private sealed class Scene
    {
        private readonly Ellipsoid _body;
        private readonly Ellipsoid _muscle;
        private readonly Ellipsoid _spine;
        private readonly Ellipsoid[] _kidneys;
        private readonly Ellipsoid[] _medullas;
        private readonly Ellipsoid? _tumour;
        private readonly double _tumourHu;

        private readonly Ellipsoid _liver;
        private readonly Ellipsoid[] _gas;

        private Scene(Ellipsoid body, Ellipsoid muscle, Ellipsoid spine, Ellipsoid[] kidneys, Ellipsoid[] medullas, Ellipsoid? tumour, double tumourHu, Ellipsoid liver, Ellipsoid[] gas)
        {
            _liver = liver;
            _gas = gas;
            _body = body;
            _muscle = muscle;
            _spine = spine;
            _kidneys = kidneys;
            _medullas = medullas;
            _tumour = tumour;
            _tumourHu = tumourHu;
        }

        public static Scene Draw(Random r, Vector3 extent, double tumourProbability)
        {
            double U(double a, double b) => a + ((b - a) * r.NextDouble());
            var bodyRadius = new Vector3(extent.X * U(0.40, 0.46), extent.Y * U(0.33, 0.40), extent.Z * 4);
            var body = new Ellipsoid(new Vector3(0, U(-3, 3), 0), bodyRadius);
            var muscle = new Ellipsoid(body.Center, new Vector3(bodyRadius.X - U(8, 14), bodyRadius.Y - U(8, 14), bodyRadius.Z));
            var spineY = body.Center.Y + (bodyRadius.Y * 0.55);
            var spine = new Ellipsoid(new Vector3(0, spineY, 0), new Vector3(U(11, 14), U(10, 13), extent.Z * 4));
            var kidneys = new List<Ellipsoid>();
            var medullas = new List<Ellipsoid>();
            foreach (var side in new[] { -1.0, 1.0 })
            {
                var center = new Vector3(side * bodyRadius.X * U(0.42, 0.52), spineY - U(4, 12), U(-0.12, 0.12) * extent.Z);
                var radius = new Vector3(U(24, 31), U(28, 38), Math.Min(U(45, 58), extent.Z * 0.45));
                kidneys.Add(new Ellipsoid(center, radius));
                medullas.Add(new Ellipsoid(center + new Vector3(-side * U(2, 5), 0, 0), radius * 0.55));
            }

            Ellipsoid? tumour = null;
            if (r.NextDouble() < tumourProbability)
            {
                var host = kidneys[r.Next(2)];
                // On the kidney surface, bulging outwards: centre at 0.6–0.9 of a random radius direction.
                var dir = new Vector3(U(-1, 1), U(-1, 1), U(-0.5, 0.5)).Normalized();
                var reach = U(0.6, 0.9);
                var center = host.Center + new Vector3(dir.X * host.Radius.X * reach, dir.Y * host.Radius.Y * reach, dir.Z * host.Radius.Z * reach);
                var size = U(12, 24);
                tumour = new Ellipsoid(center, new Vector3(size * U(0.85, 1.15), size * U(0.85, 1.15), size * U(0.85, 1.15)));
            }

            // Liver on the patient's right (x < 0), anterior to the right kidney; bowel gas anteriorly.
            var liver = new Ellipsoid(new Vector3(-bodyRadius.X * U(0.35, 0.45), body.Center.Y - (bodyRadius.Y * U(0.05, 0.2)), extent.Z * U(0.1, 0.3)), new Vector3(bodyRadius.X * U(0.4, 0.5), bodyRadius.Y * U(0.45, 0.55), extent.Z * U(0.3, 0.5)));
            var gas = Enumerable.Range(0, r.Next(3, 8)).Select(_ => new Ellipsoid(
                new Vector3(U(-0.5, 0.5) * bodyRadius.X, body.Center.Y - (bodyRadius.Y * U(0.2, 0.7)), U(-0.5, 0.5) * extent.Z),
                new Vector3(U(4, 12), U(4, 10), U(5, 15)))).ToArray();
            return new Scene(body, muscle, spine, [.. kidneys], [.. medullas], tumour, U(55, 85), liver, gas);
        }

        public (double Hu, byte Label) Sample(Vector3 p)
        {
            if (_tumour is { } t && t.Contains(p))
            {
                // Heterogeneous, hypo-enhancing; a darker necrotic core.
                return (t.Depth(p) > 0.6 ? _tumourHu - 30 : _tumourHu, Tumour);
            }

            for (var n = 0; n < _kidneys.Length; n++)
            {
                if (_kidneys[n].Contains(p))
                {
                    return (_medullas[n].Contains(p) ? 110 : 160, Kidney);
                }
            }

            if (_spine.Contains(p))
            {
                return (_spine.Depth(p) > 0.45 ? 250 : 650, (byte)0);
            }

            if (_muscle.Contains(p))
            {
                if (_gas.Any(g => g.Contains(p)))
                {
                    return (-950.0, (byte)0);
                }

                return (_liver.Contains(p) ? 95.0 : 45.0, (byte)0);
            }

            return _body.Contains(p) ? (-100.0, (byte)0) : (-1000.0, (byte)0);
        }
    }

    private readonly record struct Ellipsoid(Vector3 Center, Vector3 Radius)
    {
        private double Norm(Vector3 p)
        {
            var d = p - Center;
            return ((d.X / Radius.X) * (d.X / Radius.X)) + ((d.Y / Radius.Y) * (d.Y / Radius.Y)) + ((d.Z / Radius.Z) * (d.Z / Radius.Z));
        }

        public bool Contains(Vector3 p) => Norm(p) <= 1;

        /// <summary>0 at the surface, 1 at the centre.</summary>
        public double Depth(Vector3 p) => 1 - Math.Sqrt(Norm(p));
    }
}
