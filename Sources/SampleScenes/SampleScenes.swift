public enum SampleScenes {}
