/// The object classes the sample draws, each with its caption noun.
public enum ObjectClass: String, CaseIterable, Sendable {
    case mug, ball, book, plant, bottle, apple, clock, vase, box

    /// The plural used in captions ("two boxes").
    public var plural: String { self == .box ? "boxes" : rawValue + "s" }

    /// Colour names this class is drawn in.
    var colours: [String] {
        switch self {
        case .apple: return ["red", "green", "yellow"]
        case .plant: return ["green"]
        case .box: return ["brown", "white", "blue"]
        case .clock: return ["black", "red", "blue", "white"]
        default: return ["red", "green", "blue", "yellow", "orange", "purple", "pink", "black"]
        }
    }
}

/// Named colours and their RGB.
enum Palette {
    static let rgb: [String: (Double, Double, Double)] = [
        "red": (200, 40, 40), "green": (50, 160, 60), "blue": (40, 80, 200), "yellow": (230, 200, 40),
        "orange": (240, 140, 30), "purple": (130, 60, 170), "pink": (240, 130, 180), "brown": (140, 90, 45),
        "black": (35, 35, 35), "white": (238, 238, 238), "gray": (128, 128, 128),
    ]
}

/// One object placed in a scene.
public struct SceneObject: Sendable, Equatable {
    /// The class (the mask label).
    public var kind: ObjectClass
    /// The colour name used in the caption.
    public var colour: String
    /// Instance value in the instance map (1-based).
    public var value: Int
    /// Visible box in pixels, `[x0, y0, x1, y1]` (x1, y1 exclusive).
    public var box: [Int]
    /// Visible pixel count.
    public var area: Int
    /// For boxes and books: the outline as a polygon (x, y pairs), for COCO polygons.
    public var outline: [Double]?
}
